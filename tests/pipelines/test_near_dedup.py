"""NearDuplicates on a generated corpus whose true Jaccard is known by brute force.

Expected levels come from the LSH S-curve: a pair of Jaccard s becomes a candidate with
probability P(s) = 1 - (1 - s**r)**b. With the default 128 permutations at threshold
0.8 that is b=9, r=13: P(0.80)=0.40, P(0.85)=0.69, P(0.90)=0.93, P(0.95)=0.998. So
pair recall is asserted against the corpus' own mean of P over its true pairs (a lower
bound: a pair can also meet through a chain), and false removals without verification
against the expected number of candidate pairs below the threshold.
"""

from __future__ import annotations

import math
import pickle
import random
from itertools import combinations
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.pipelines.near_dedup import CLUSTER_SIZE_ATTRIBUTE, STAGE, NearDuplicates
from polymix.transforms.example import Duplicate, Example
from polymix.transforms.lsh import collision_probability
from polymix.transforms.minhash import MinHasher

_BOILERPLATE = [
    "Copyright 2024 Example Media Group. All rights reserved.",
    "Subscribe to our newsletter for weekly updates!",
    "Posted by admin in Uncategorized | 3 comments",
]


def _vocabulary(rng: random.Random, n: int = 4000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "ar", "ex", "po"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _edit(words: list[str], rate: float, vocab: list[str], rng: random.Random) -> list[str]:
    """Substitute, delete or insert words at `rate`; sometimes swap halves or add boilerplate."""
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue
        if roll < 2 * rate / 3:
            out.append(rng.choice(vocab))
        elif roll < rate:
            out.extend([word, rng.choice(vocab)])
        else:
            out.append(word)
    if rng.random() < 0.2:
        half = len(out) // 2
        out = out[half:] + out[:half]
    if rng.random() < 0.3:
        out = rng.choice(_BOILERPLATE).split() + out
    return out


def _example(doc_id: str, words: list[str], source: str = "web") -> Example:
    return Example(source=source, id=doc_id, modality="text", text=" ".join(words))


def near_dup_corpus(seed: int = 0, clusters: int = 60, unique: int = 120) -> list[Example]:
    """Clusters of edited copies (edit rates 0-8%) plus unrelated documents; random ids."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    documents: list[list[str]] = []
    for _ in range(clusters):
        base = rng.choices(vocab, weights, k=rng.randint(150, 400))
        documents.append(base)
        for _ in range(rng.randint(1, 5)):
            documents.append(_edit(base, rng.choice([0.0, 0.01, 0.02, 0.04, 0.08]), vocab, rng))
    for _ in range(unique):
        documents.append(rng.choices(vocab, weights, k=rng.randint(50, 400)))
    ids = rng.sample(range(10**6), len(documents))
    return [_example(f"doc{i:06d}", words) for i, words in zip(ids, documents, strict=True)]


def chain_and_big_cluster(seed: int = 1) -> list[Example]:
    """A chain (neighbours ~0.85, ends far below 0.8) and a 60-copy cluster."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    words = rng.choices(vocab, k=900)
    chain = []
    for step in range(6):  # slide a 300-word window by 20 words a step
        chain.append(words[step * 20 : step * 20 + 300])
    order = [3, 1, 5, 0, 4, 2]  # ids not in chain order: the smallest sits mid-chain
    examples = [_example(f"chain{order[i]}", w) for i, w in enumerate(chain)]
    base = rng.choices(vocab, k=300)
    for copy in range(60):
        edited = base[:]
        edited[rng.randrange(len(edited))] = rng.choice(vocab)
        examples.append(_example(f"big{(copy * 37) % 60:02d}", edited))
    return examples


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _run(
    examples: list[Example],
    config: NearDedupConfig,
    path: Path,
    options: PipelineOptions | None = None,
) -> tuple[list[Example], list[Duplicate], dict[str, int]]:
    pipeline = beam.Pipeline(options=options)
    out = pipeline | beam.Create(examples, reshuffle=False) | NearDuplicates(config)
    for name in ("kept", "duplicates"):
        _ = (
            out[name]
            | f"Gather{name}" >> beam.combiners.ToList()
            | f"Dump{name}" >> beam.Map(_dump, str(path / f"{name}.pkl"))
        )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(STAGE))[
            "counters"
        ]
    }
    return (
        pickle.loads((path / "kept.pkl").read_bytes()),
        pickle.loads((path / "duplicates.pkl").read_bytes()),
        counters,
    )


def _dump(values: list, path: str) -> None:
    Path(path).write_bytes(pickle.dumps(values))


def _cluster_of(kept: list[Example], duplicates: list[Duplicate]) -> dict[str, str]:
    cluster = {e.id: e.id for e in kept}
    cluster.update({d.example.id: d.kept_id for d in duplicates})
    return cluster


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return near_dup_corpus()


@pytest.fixture(scope="module")
def truth(corpus) -> dict[tuple[str, str], float]:
    hasher = MinHasher()
    sets = {e.id: set(hasher.shingles(e.text)) for e in corpus}
    return {(a, b): _jaccard(sets[a], sets[b]) for a, b in combinations(sorted(sets), 2)}


@pytest.fixture(scope="module")
def verified_run(corpus, tmp_path_factory):
    return _run(corpus, NearDedupConfig(), tmp_path_factory.mktemp("verified"))


def test_every_input_comes_out_once(corpus, verified_run):
    kept, duplicates, counters = verified_run
    out_ids = [e.id for e in kept] + [d.example.id for d in duplicates]
    assert sorted(out_ids) == sorted(e.id for e in corpus)
    assert counters["documents"] == len(corpus)
    assert counters["kept"] == len(kept) and counters["duplicates"] == len(duplicates)
    assert all(d.stage == STAGE and 0.0 <= d.similarity <= 1.0 for d in duplicates)
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    for kept_id in {d.kept_id for d in duplicates}:
        assert sizes[kept_id] == 1 + sum(d.kept_id == kept_id for d in duplicates)


def test_recall_and_precision_meet_minhash_theory(truth, verified_run):
    kept, duplicates, counters = verified_run
    cluster = _cluster_of(kept, duplicates)
    true_pairs = {pair: s for pair, s in truth.items() if s >= 0.8}
    assert len(true_pairs) >= 150
    bands, rows = NearDedupConfig().lsh_params()
    p = [collision_probability(s, bands, rows) for s in true_pairs.values()]
    expected = sum(p) / len(p)
    spread = math.sqrt(sum(x * (1 - x) for x in p)) / len(p)
    found = sum(cluster[a] == cluster[b] for a, b in true_pairs) / len(true_pairs)
    assert found >= expected - 3 * spread, (found, expected, spread)
    # Verified: every removed document has a true neighbour >= 0.8 in its cluster.
    neighbours = {a for pair in true_pairs for a in pair}
    removed = [d.example.id for d in duplicates]
    assert all(doc in neighbours for doc in removed)


# A chain needs neighbours found almost surely (J ~0.87) while its ends stay below the
# threshold, which the steep default curve (P(0.87)=0.80) cannot promise: 32 bands of 4
# rows can (P(0.87)=1 - 2e-12), at the price of many false candidates that verification
# then drops.
_WIDE = NearDedupConfig(bands=32, rows=4)


@pytest.fixture(scope="module")
def wide_run(corpus, tmp_path_factory):
    return _run(corpus + chain_and_big_cluster(), _WIDE, tmp_path_factory.mktemp("wide"))


def test_clusters_keep_smallest_id_for_chains_and_big_clusters(wide_run):
    hasher = MinHasher()
    chain = {e.id: set(hasher.shingles(e.text)) for e in chain_and_big_cluster() if "chain" in e.id}
    assert _jaccard(chain["chain3"], chain["chain1"]) > 0.85  # neighbours (positions 0, 1)
    assert _jaccard(chain["chain3"], chain["chain5"]) < 0.8  # two steps apart: not similar
    assert _jaccard(chain["chain3"], chain["chain2"]) < 0.6  # the two ends
    kept, duplicates, counters = wide_run
    cluster = _cluster_of(kept, duplicates)
    assert {cluster[f"chain{i}"] for i in range(6)} == {"chain0"}
    assert {cluster[f"big{i:02d}"] for i in range(60)} == {"big00"}
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    assert sizes["big00"] == 60 and sizes["chain0"] == 6
    assert counters["false_positive_edges"] > 0  # the wide bands' price, paid by verification


def test_without_verification_false_removals_stay_within_theory(corpus, truth, tmp_path):
    kept, duplicates, counters = _run(corpus, NearDedupConfig(verify=False), tmp_path)
    assert "verified_edges" not in counters
    bands, rows = NearDedupConfig().lsh_params()
    below = [s for s in truth.values() if s < 0.8]
    expected_false_edges = sum(collision_probability(s, bands, rows) for s in below)
    neighbours = {a for pair, s in truth.items() if s >= 0.8 for a in pair}
    false_removals = sum(d.example.id not in neighbours for d in duplicates)
    assert false_removals <= expected_false_edges + 3 * math.sqrt(expected_false_edges) + 1
    precision = 1 - false_removals / len(duplicates)
    assert precision >= 0.95, (precision, expected_false_edges)


def test_result_independent_of_order_and_workers(corpus, wide_run, tmp_path):
    shuffled = corpus + chain_and_big_cluster()
    random.Random(5).shuffle(shuffled)
    options = PipelineOptions(direct_num_workers=2, direct_running_mode="multi_threading")
    again = _run(shuffled, _WIDE, tmp_path, options)

    def canonical(run):
        kept, duplicates, _ = run
        return (
            sorted((e.id, sorted(e.attributes.items())) for e in kept),
            sorted((d.example.id, d.kept_id, d.similarity) for d in duplicates),
        )

    assert canonical(again) == canonical(wide_run)


def test_config_bands_and_scheme():
    assert NearDedupConfig().lsh_params() == (9, 13)
    assert NearDedupConfig(threshold=0.5).lsh_params() == (25, 5)
    assert NearDedupConfig(bands=16, rows=8).lsh_params() == (16, 8)
    with pytest.raises(ValueError, match="set both"):
        NearDedupConfig(bands=16)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        NearDedupConfig(bands=20, rows=8)
    with pytest.raises(ValueError, match="Extra inputs"):
        NearDedupConfig(treshold=0.7)
    scheme = NearDedupConfig().scheme()
    assert scheme["bands"] == 9 and scheme["rows"] == 13 and scheme["num_perm"] == 128
    assert scheme["hash_function"] == "xxh32" and scheme["scheme"] == "affine32"
    assert scheme["library"] == "datasketch==2.0.0" and "NFKD" in scheme["normalization"]


def test_disabled_passes_everything_through(tmp_path):
    examples = [
        _example(f"d{i}", ["same", "words", "in", "every", "one", "of", "them"]) for i in range(3)
    ]
    kept, duplicates, _ = _run(examples, NearDedupConfig(enabled=False), tmp_path)
    assert sorted(kept, key=lambda e: e.id) == examples and duplicates == []


def test_repeated_node_key_still_accounts_every_input(tmp_path):
    words = [f"w{i}" for i in range(60)]
    examples = [
        _example("same", words),
        _example("same", words[:-1] + ["other"]),  # same id and source, near-duplicate text
        _example("copy", words),
        _example("lone", [f"x{i}" for i in range(60)]),
    ]
    kept, duplicates, _ = _run(examples, NearDedupConfig(), tmp_path)
    assert sorted(e.id for e in kept) == ["copy", "lone"]
    assert sorted((d.example.id, d.kept_id) for d in duplicates) == [("same", "copy")] * 2
