"""A small text-only corpus with a vocabulary the `tiny` model can embed, for trainer tests.

The loader tests' corpus uses ids up to 1e6 to attribute records; the trainer needs
ids below the model's vocabulary, and text with structure a model can learn in a few
steps (each document counts upwards from a random start), so the loss visibly falls.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
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

BOS, EOS = 1, 2


def _tokenizer_copy(folder: Path) -> str:
    """A stand-in `tokenizer.model` (the loader only reads its ids from the manifest)."""
    (folder / "tokenizer.model").write_bytes(b"stand-in tokenizer model")
    return sha256_file(folder / "tokenizer.model")


FIRST_ID = 8  # after pad, bos, eos, unk and the four media markers


def write_text_corpus(
    folder: Path,
    *,
    vocab: int = 96,
    max_seq_len: int = 32,
    records: int = 400,
    shards: int = 2,
    seed: int = 0,
) -> Path:
    """Shards + manifest.json under `folder`; returns the manifest's path."""
    folder = Path(folder)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    infos, total_tokens = [], 0
    for k, members in enumerate(np.array_split(np.arange(records), shards)):
        rel = f"shards/text-{k:05d}-of-{shards:05d}.array_record"
        writer = ArrayRecordWriter(str(folder / rel), "group_size:1")
        tokens = 0
        for i in members:
            n = int(rng.integers(4, max_seq_len - 1))
            start = int(rng.integers(FIRST_ID, vocab))
            body = FIRST_ID + (start - FIRST_ID + np.arange(n)) % (vocab - FIRST_ID)
            ids = np.concatenate([[BOS], body, [EOS]]).astype(np.int32)
            fields = {"source": "text", "id": f"doc-{int(i)}", "modality": "text"}
            writer.write(record_codec.encode(fields, {"tokens": ids}))
            tokens += len(ids)
        writer.close()
        path = folder / rel
        infos.append(
            ShardInfo(
                path=rel,
                source="text",
                modality="text",
                records=len(members),
                tokens=tokens,
                bytes=path.stat().st_size,
                sha256=sha256_file(path),
            )
        )
        total_tokens += tokens
    manifest = Manifest(
        polymix_version="test",
        config_hash="test",
        max_seq_len=max_seq_len,
        tokenizer=TokenizerInfo(
            path="tokenizer.model",
            sha256=_tokenizer_copy(folder),
            vocab_size=vocab,
            bos_id=BOS,
            eos_id=EOS,
            pad_id=0,
            specials={"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7},
        ),
        sources={
            "text": SourceTotals(
                modality="text",
                weight=1.0,
                input=records,
                kept=records,
                records=records,
                tokens=total_tokens,
            )
        },
        mixture={"text": 1.0},
    )
    write_manifest(folder, manifest, infos)
    return folder / MANIFEST_NAME


# One configuration for every tiny training test: the same program, so XLA's
# persistent cache compiles it once per session.
TINY = (
    "model=tiny",
    "steps=8",
    "decay_steps=8",
    "warmup_steps=2",
    "peak_lr=1e-2",
    "global_batch_size=8",
    "checkpoint_every=4",
    "progress=false",
    "plot=false",
    "peak_tflops=1",
)


def tiny_config(*overrides: str):
    from polymix.trainer.config import TrainConfig, apply_overrides

    return apply_overrides(TrainConfig(), [*TINY, *overrides])


@functools.cache
def share_compilation_cache() -> dict[str, str]:
    """One XLA cache per test process: every tiny run (and subprocess) compiles once.

    Returns the environment for subprocesses, which read the same cache.
    """
    from polymix.trainer.loop import use_compilation_cache

    folder = tempfile.mkdtemp(prefix="polymix-xla-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    use_compilation_cache(folder, min_compile_s=0.2)
    env = dict(os.environ)
    env["JAX_COMPILATION_CACHE_DIR"] = folder
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"
    return env
