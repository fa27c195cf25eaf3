"""Text sources with held-out shards (`eval/<source>/...`, split=eval), for evaluation tests.

Each source's text ids lie in its own band below the `tiny` model's vocabulary, so a
test can tell which source a packed token came from. Held-out records are written in the
pipeline's layout (same record codec, ArrayRecord group_size:1) and kept here in file
order, so a test can pin exactly which records the eval batches hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.core import record_codec
from polymix.core.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardInfo,
    SourceTotals,
    TokenizerInfo,
    sha256_file,
    write_manifest,
)
from tests.trainer.train_corpus import BOS, EOS, FIRST_ID

VOCAB = 128
MAX_SEQ_LEN = 32
# name -> (id band [lo, hi), training records, held-out records per shard, position weight)
SOURCES = {
    "web": ((FIRST_ID, 64), 200, (20, 20), 0.5),
    "code": ((64, 120), 200, (5,), 0.4),  # fewer held-out records than one batch's rows
    "books": ((120, VOCAB), 100, (), 0.1),  # nothing held out
}


@dataclass
class EvalCorpus:
    manifest_path: Path
    held_out: dict[str, list[np.ndarray]] = field(default_factory=dict)  # in file order

    def band(self, name: str) -> tuple[int, int]:
        return SOURCES[name][0]


def _document(rng: np.random.Generator, band: tuple[int, int]) -> np.ndarray:
    lo, hi = band
    n = int(rng.integers(4, MAX_SEQ_LEN - 1))
    body = lo + (int(rng.integers(0, hi - lo)) + np.arange(n)) % (hi - lo)
    return np.concatenate([[BOS], body, [EOS]]).astype(np.int32)


def _shard(folder: Path, rel: str, name: str, docs: list[np.ndarray], split: str) -> ShardInfo:
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    writer = ArrayRecordWriter(str(folder / rel), "group_size:1")
    for i, ids in enumerate(docs):
        fields = {"source": name, "id": f"{name}-{split}-{i}", "modality": "text"}
        writer.write(record_codec.encode(fields, {"tokens": ids}))
    writer.close()
    path = folder / rel
    return ShardInfo(
        path=rel,
        source=name,
        modality="text",
        records=len(docs),
        tokens=sum(len(d) for d in docs),
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        split=split,
    )


def write_eval_corpus(folder: Path, *, seed: int = 0) -> EvalCorpus:
    """Training and held-out shards of `SOURCES` + manifest.json under `folder`."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    corpus = EvalCorpus(folder / MANIFEST_NAME)
    infos, totals = [], {}
    for name, (band, records, held_out, weight) in SOURCES.items():
        docs = [_document(rng, band) for _ in range(records)]
        train = _shard(folder, f"shards/{name}/{name}-00000.array_record", name, docs, "train")
        infos.append(train)
        corpus.held_out[name] = []
        for k, count in enumerate(held_out):
            kept = [_document(rng, band) for _ in range(count)]
            rel = f"eval/{name}/{name}-{k:05d}.array_record"
            infos.append(_shard(folder, rel, name, kept, "eval"))
            corpus.held_out[name].extend(kept)
        totals[name] = SourceTotals(
            modality="text",
            weight=weight,
            input=records + sum(held_out),
            kept=records + sum(held_out),
            records=records,
            tokens=train.tokens,
            eval_records=sum(held_out),
            eval_tokens=sum(len(d) for d in corpus.held_out[name]),
        )
    (folder / "tokenizer.model").write_bytes(b"stand-in tokenizer model")
    tokenizer = TokenizerInfo(
        path="tokenizer.model",
        sha256=sha256_file(folder / "tokenizer.model"),
        vocab_size=VOCAB,
        bos_id=BOS,
        eos_id=EOS,
        pad_id=0,
        specials={"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7},
    )
    top = Manifest(
        polymix_version="test",
        config_hash="test",
        max_seq_len=MAX_SEQ_LEN,
        tokenizer=tokenizer,
        sources=totals,
        mixture={name: spec[3] for name, spec in SOURCES.items()},
    )
    write_manifest(folder, top, infos)
    return corpus
