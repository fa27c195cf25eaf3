"""Checks that refuse a run before any device time is spent on it.

A manifest whose shards fail verification, or whose tokenizer emits ids the model
has no embedding for, would otherwise fail minutes later (or, for the vocabulary,
silently: embedding lookups clip out-of-range ids). Every check reads the index (one
index file at a time) before it opens any shard, so a manifest naming a path outside
its run is refused before anything is read from there.
"""

from __future__ import annotations

import math
import os
from typing import Any

from polymix.core.errors import UserFacingError
from polymix.core.manifest import (
    Manifest,
    ManifestError,
    index_problems,
    join,
    load_manifest,
    problems_line,
    verify_manifest,
)
from polymix.core.manifest.storage import size
from polymix.trainer.config import TrainConfig


class PreflightError(UserFacingError):
    """The run cannot start; the message says what to change."""


def check_manifest(
    path: str | os.PathLike[str], model_cfg: Any, cfg: TrainConfig
) -> tuple[Manifest, int]:
    """The verified manifest and the sequence length to train at."""
    # Both raise ManifestError naming every bad file (in one line).
    manifest = verify_manifest(path) if cfg.verify == "full" else _check_sizes(path)
    if manifest.tokenizer is None:
        raise PreflightError(
            f"{path}: the manifest names no tokenizer; cannot check its vocabulary"
        )
    vocab = manifest.tokenizer.vocab_size
    if vocab > model_cfg.vocab_size:
        raise PreflightError(
            f"tokenizer vocab_size {vocab} exceeds the model's vocab_size "
            f"{model_cfg.vocab_size} ({cfg.model}): ids >= {model_cfg.vocab_size} have no "
            f"embedding; use model.vocab_size={vocab} or a larger preset"
        )
    if manifest.shard_count == 0:
        raise PreflightError(f"{path}: the manifest lists no shards")
    check_media_layout(manifest, model_cfg, cfg)
    seq_len = cfg.seq_len or manifest.max_seq_len
    if seq_len < manifest.max_seq_len:
        raise PreflightError(
            f"seq_len={seq_len} is shorter than the manifest's max_seq_len "
            f"{manifest.max_seq_len}; records are never split by the loader"
        )
    return manifest, seq_len


# The manifest's media layout keys, each the model config field that must equal it.
MEDIA_LAYOUT_KEYS = ("patch_size", "image_channels", "n_mels", "frame_stack")


def check_media_layout(manifest: Manifest, model_cfg: Any, cfg: TrainConfig) -> None:
    """Records cut with other patch or frame sizes than the model embeds would fail only
    at the first batch holding one (or, for a source drawn rarely, hours in)."""
    layout = manifest.media or {}
    wrong = [
        f"model.{key}={layout[key]} (the model has {getattr(model_cfg, key)})"
        for key in MEDIA_LAYOUT_KEYS
        if key in layout and layout[key] != getattr(model_cfg, key)
    ]
    if wrong:
        raise PreflightError(
            f"the manifest's media records do not fit model {cfg.model!r}: set " + ", ".join(wrong)
        )


def _check_sizes(path: str | os.PathLike[str]) -> Manifest:
    """verify=lazy: every shard present with its size; checksums follow in the loader."""
    manifest = load_manifest(path)
    problems = index_problems(manifest)
    if not problems:
        for shard in manifest.shards():
            found = size(join(manifest.root, shard.path))
            if found is None:
                problems.append(f"shard {shard.path}: missing")
            elif found != shard.bytes:
                problems.append(
                    f"shard {shard.path}: {found} bytes on disk, manifest says {shard.bytes}"
                )
    if problems:
        raise ManifestError(problems_line(os.fspath(path), problems))
    return manifest


def check_mesh(shape: tuple[int, ...], n_devices: int, cfg: TrainConfig) -> None:
    data, fsdp, expert = shape[0], shape[1], shape[-1]
    need = math.prod(shape)
    if need > n_devices:
        raise PreflightError(
            f"mesh={cfg.mesh!r} -> (data, fsdp, context, model, expert) {shape} needs {need} "
            f"devices; there are {n_devices}"
        )
    rows = data * fsdp * expert * cfg.grad_accum
    if cfg.global_batch_size % rows:
        raise PreflightError(
            f"global_batch_size={cfg.global_batch_size} is not divisible by "
            f"data*fsdp*expert*grad_accum={rows}: every microbatch's rows are split over "
            "those mesh axes"
        )
