"""The held-out split on a corpus of near-duplicate clusters, through `polymix run`.

The corpus is clusters of near copies plus unrelated documents, long enough that most
documents give several records. With a
large fraction the split is tested where it can go wrong: records of one document,
clusters whose members would fall on both sides, and the bytes under 1 and 2 workers.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
import sentencepiece as spm
import yaml
from apache_beam.testing.util import assert_that
from array_record.python.array_record_module import ArrayRecordReader

from polymix.cli import main
from polymix.core.config.eval import EvalConfig
from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.manifest import ShardInfo, load_manifest
from polymix.core.record_codec import decode
from polymix.pipelines.held_out import SplitHeldOut
from polymix.transforms.example import TokenizedRecord
from polymix.transforms.held_out import is_held_out
from polymix.transforms.minhash import MinHasher
from tests.pipelines.conftest import run_pipeline
from tests.support.run_layout import data_root

FRACTION = 0.3
SOURCE = "web"


def _config(corpus: Path, fraction: float = FRACTION) -> dict:
    return {
        "sources": [
            {
                "name": SOURCE,
                "modality": "text",
                "paths": ["docs/*.jsonl"],
                "format": "jsonl",
                "id_field": "id",
            }
        ],
        "tokenizer": {"model": "tokenizer/spm.model", "vocab_size": 400},
        "shards": {"max_seq_len": 128, "target_bytes": 16384},
        "filters": {"stages": {"text": [], "code": []}},
        "eval": {"fraction": fraction, "salt": "split-test"},
    }


def _clustered_corpus(seed: int = 3, clusters: int = 40, unique: int = 60) -> dict[str, str]:
    """id -> text: clusters of copies one or two words apart (Jaccard ~0.95, which LSH at
    the default scheme finds with probability ~0.998) and unrelated documents; random ids."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "ar", "ex", "po"]
    vocab = ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(3000)]
    texts = []
    for _ in range(clusters):
        base = rng.choices(vocab, k=rng.randint(200, 400))
        texts.append(base)
        for _ in range(rng.randint(1, 4)):
            copy = base[:]
            for _ in range(rng.randint(1, 2)):
                copy[rng.randrange(len(copy))] = rng.choice(vocab)
            texts.append(copy)
    texts += [rng.choices(vocab, k=rng.randint(100, 400)) for _ in range(unique)]
    ids = rng.sample(range(10**6), len(texts))
    return {f"doc{i:06d}": " ".join(words) for i, words in zip(ids, texts, strict=True)}


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return _clustered_corpus()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, documents) -> Path:
    root = tmp_path_factory.mktemp("split") / "corpus"
    (root / "docs").mkdir(parents=True)
    lines = [json.dumps({"id": doc_id, "text": text}) for doc_id, text in documents.items()]
    (root / "docs" / "docs.jsonl").write_text("\n".join(lines) + "\n")
    (root / "polymix.yaml").write_text(yaml.safe_dump(_config(root)))
    assert main(["tokenizer", "train", str(root / "polymix.yaml")]) == 0
    return root


@pytest.fixture(scope="module")
def split_run(corpus, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("split-run") / "out"
    run_pipeline(corpus / "polymix.yaml", output)
    return output


def _records(run: Path, shard: ShardInfo) -> list:
    reader = ArrayRecordReader(str(data_root(run) / shard.path))
    try:
        return [decode(data) for data in reader.read_all()]
    finally:
        reader.close()


def _documents(run: Path, shards) -> dict[str, list]:
    """doc_id -> its records (the shard entries' files, decoded)."""
    by_doc: dict[str, list] = defaultdict(list)
    for shard in shards:
        for record in _records(run, shard):
            by_doc[record.fields["doc_id"]].append(record)
    return by_doc


def _split_files(run: Path) -> dict[str, bytes]:
    root = data_root(run)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for folder in ("eval", "index/eval")
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


def test_held_out_records_are_in_eval_shards_apart_from_training(split_run):
    manifest = load_manifest(split_run / "manifest.json")
    train, held = list(manifest.shards(SOURCE)), list(manifest.eval_shards(SOURCE))
    assert held and all(s.split == "eval" and s.path.startswith(f"eval/{SOURCE}/") for s in held)
    assert all(s.split == "train" and s.path.startswith(f"shards/{SOURCE}/") for s in train)
    train_docs, held_docs = _documents(split_run, train), _documents(split_run, held)
    assert not set(train_docs) & set(held_docs)
    totals = manifest.sources[SOURCE]
    assert totals.kept == len(train_docs) + len(held_docs)  # held-out examples were kept
    assert (
        totals.eval_records
        == sum(len(r) for r in held_docs.values())
        == sum(s.records for s in held)
    )
    assert totals.records == sum(len(r) for r in train_docs.values())
    assert totals.eval_tokens == sum(s.tokens for s in held) > 0
    assert totals.balances()


def test_each_example_is_decided_by_its_id_with_all_its_records(split_run):
    manifest = load_manifest(split_run / "manifest.json")
    for shards, held in ((manifest.shards(SOURCE), False), (manifest.eval_shards(SOURCE), True)):
        for doc_id, records in _documents(split_run, shards).items():
            assert is_held_out(SOURCE, doc_id, FRACTION, "split-test") is held, doc_id
            assert sorted(r.fields["chunk"] for r in records) == list(range(len(records)))
    shares = [
        len(_documents(split_run, shards))
        for shards in (manifest.shards(SOURCE), manifest.eval_shards(SOURCE))
    ]
    assert 0.15 < shares[1] / sum(shares) < 0.45
    assert any(len(r) > 1 for r in _documents(split_run, manifest.eval_shards(SOURCE)).values())


def _texts(run: Path, shards, model: bytes) -> dict[str, str]:
    tokenizer = spm.SentencePieceProcessor(model_proto=model)
    texts = {}
    for doc_id, records in _documents(run, shards).items():
        ordered = sorted(records, key=lambda r: r.fields["chunk"])
        ids = np.concatenate([r.arrays["tokens"] for r in ordered]).tolist()
        texts[doc_id] = tokenizer.decode(ids)
    return texts


def _near_pairs(a: dict[str, str], b: dict[str, str], threshold: float) -> list[tuple]:
    """Pairs (one of `a`, one of `b`) whose MinHash Jaccard, by the run's scheme, reaches it."""
    near = NearDedupConfig()
    hasher = MinHasher(near.num_perm, near.seed, near.ngram, near.hash_function)
    sig_a, sig_b = hasher.signatures(list(a.values())), hasher.signatures(list(b.values()))
    similar = (sig_a[:, None, :] == sig_b[None, :, :]).mean(axis=2) >= threshold
    ids_a, ids_b = list(a), list(b)
    return [(ids_a[i], ids_b[j]) for i, j in zip(*np.nonzero(similar), strict=True)]


def test_no_held_out_document_is_a_near_duplicate_of_a_training_one(split_run, corpus, documents):
    threshold = NearDedupConfig().threshold
    # Had the split come before dedup, near copies would sit on both sides:
    side = {doc_id: is_held_out(SOURCE, doc_id, FRACTION, "split-test") for doc_id in documents}
    near = _near_pairs(documents, documents, threshold)
    straddling = [(a, b) for a, b in near if side[a] != side[b]]
    assert len(straddling) >= 5
    manifest = load_manifest(split_run / "manifest.json")
    model = (corpus / "tokenizer" / "spm.model").read_bytes()
    train = _texts(split_run, manifest.shards(SOURCE), model)
    held = _texts(split_run, manifest.eval_shards(SOURCE), model)
    assert _near_pairs(held, train, threshold) == []


@pytest.mark.slow  # a second run; the demo's rerun test checks the same in the default suite
def test_a_second_run_writes_the_same_eval_shards(split_run, corpus, tmp_path):
    run_pipeline(corpus / "polymix.yaml", tmp_path / "again")
    here, there = _split_files(split_run), _split_files(tmp_path / "again")
    assert here and sorted(here) == sorted(there)
    assert all(here[name] == there[name] for name in here)


@pytest.mark.slow  # two worker processes on two shared cores
def test_two_worker_processes_write_the_same_eval_shards(split_run, corpus, tmp_path):
    run_pipeline(
        corpus / "polymix.yaml",
        tmp_path / "mp",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    )
    here, there = _split_files(split_run), _split_files(tmp_path / "mp")
    assert here and sorted(here) == sorted(there)
    assert all(here[name] == there[name] for name in here)


RECORDS = [
    TokenizedRecord(SOURCE, "text", f"doc{i}#{k}", b"", 4, f"doc{i}")
    for i in range(200)
    for k in range(3)
]


def _whole_examples(low: int, high: int):
    """A Beam matcher: every example on this side with all 3 records, low <= examples < high."""

    def check(ids):
        chunks = defaultdict(set)
        for record_id in ids:
            doc, chunk = record_id.split("#")
            chunks[doc].add(chunk)
        assert all(found == {"0", "1", "2"} for found in chunks.values()), chunks
        assert low <= len(chunks) < high, len(chunks)

    return check


def _check_split(fraction: float, train: tuple[int, int], held: tuple[int, int]) -> None:
    with beam.Pipeline() as pipeline:
        sides = pipeline | beam.Create(RECORDS) | SplitHeldOut(EvalConfig(fraction=fraction))
        for name, bounds in (("train", train), ("eval", held)):
            ids = sides[name] | f"Ids[{name}]" >> beam.Map(lambda r: r.id)
            assert_that(ids, _whole_examples(*bounds), label=f"Check[{name}]")


def test_fraction_zero_holds_nothing_out():
    _check_split(0.0, train=(200, 201), held=(0, 1))


def test_the_records_of_one_example_go_to_one_side():
    _check_split(0.5, train=(60, 140), held=(60, 140))
