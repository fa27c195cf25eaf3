"""Small text sources with different token distributions, train and held-out shards each.

`counting` documents count upwards from a random start through its own band of ids (a
model learns them in a few steps, so its held-out loss falls with its share of the
mixture); `noise` documents are uniform draws from another band (nothing to learn but
the band). The manifest carries a plan made by the planner, so epoch caps are the
planner's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.core import record_codec
from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardInfo,
    SourceTotals,
    TokenizerInfo,
    sha256_file,
    write_manifest,
)
from polymix.core.mixture import plan_mixture, supply_from_totals

BOS, EOS, FIRST_ID, VOCAB, SEQ = 1, 2, 8, 96, 32


def counting(rng: np.random.Generator, n: int) -> np.ndarray:
    start = int(rng.integers(0, 44))
    return FIRST_ID + (start + np.arange(n)) % 44


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(FIRST_ID + 44, VOCAB, size=n)


KINDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "counting": counting,
    "noise": noise,
}


def _shard(folder: Path, rel: str, name: str, docs: list[np.ndarray], split: str) -> ShardInfo:
    writer = ArrayRecordWriter(str(folder / rel), "group_size:1")
    for i, body in enumerate(docs):
        ids = np.concatenate([[BOS], body, [EOS]]).astype(np.int32)
        fields = {"source": name, "id": f"{split}-{i}", "modality": "text"}
        writer.write(record_codec.encode(fields, {"tokens": ids}))
    writer.close()
    path = folder / rel
    return ShardInfo(
        path=rel,
        source=name,
        modality="text",
        records=len(docs),
        tokens=sum(len(d) + 2 for d in docs),
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        split=split,
    )


def write_sources(
    folder: Path,
    weights: dict[str, float],
    *,
    records: int = 300,
    eval_records: int = 64,
    mixture: MixtureConfig | None = None,
    seed: int = 0,
) -> Path:
    """One source per entry of `weights` (named after its kind); the manifest's path."""
    folder = Path(folder)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.model").write_bytes(b"stand-in tokenizer model")
    rng = np.random.default_rng(seed)
    infos, totals = [], {}
    for name in sorted(weights):
        make = KINDS[name]
        docs = {
            split: [make(rng, int(rng.integers(8, SEQ - 2))) for _ in range(n)]
            for split, n in (("train", records), ("eval", eval_records))
        }
        train = _shard(folder, f"shards/{name}-train.array_record", name, docs["train"], "train")
        held = _shard(folder, f"shards/{name}-eval.array_record", name, docs["eval"], "eval")
        infos += [train, held]
        kept = records + eval_records
        totals[name] = SourceTotals(
            modality="text",
            weight=weights[name],
            input=kept,
            kept=kept,
            records=records,
            tokens=train.tokens,
            positions={"text": train.tokens},
            eval_records=eval_records,
            eval_tokens=held.tokens,
        )
    plan = plan_mixture(supply_from_totals(totals), mixture or MixtureConfig())
    manifest = Manifest(
        polymix_version="test",
        config_hash="test",
        max_seq_len=SEQ,
        tokenizer=TokenizerInfo(
            path="tokenizer.model",
            sha256=sha256_file(folder / "tokenizer.model"),
            vocab_size=VOCAB,
            bos_id=BOS,
            eos_id=EOS,
            pad_id=0,
            specials={"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7},
        ),
        sources=totals,
        mixture=plan.weights(),
        plan=plan.to_json(),
    )
    write_manifest(folder, manifest, infos)
    return folder / MANIFEST_NAME
