"""Multimodal packing of one block of records into rows, and rows into model batches.

Why not grain's `FirstFitPackIterDataset` (which we used first): it is a stateful stream
transform, so it must run after grain's worker processes (before them, batches would
depend on `worker_count`), i.e. single-threaded in the trainer's process, and it cost
about 65 us per record under the profiler; the loader reached 8-10k records/s with it
on `benchmarks/loader.py`'s demo shards against 13-14k with this block packer, both with
no workers. Packing each read block on its own is a pure function of the block, so it
runs inside grain's workers, and the compiled first-fit and field fill
(`pack_kernel`) cost well under a microsecond per record. The price: a block's last
rows may be part-filled (fill rate is reported, ~0.95 there).

A record lands whole in one row (never split; the pipeline guarantees it fits), its
positions restart at 0, its segment id is its rank in the row, and its patches / frames
are appended to the row's media in order, so a media position's row in `patches` is the
running count of image positions in its row (likewise for audio).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from polymix.model.batch import FIELDS, PAD, TEXT
from polymix.trainer.data import pack_kernel
from polymix.trainer.data.layout import Part

MEDIA = ("patches", "frames")
_DTYPES = {name: np.dtype(dtype) for name, (dtype, _) in FIELDS.items()}
_KERNEL_FIELDS = (
    "tokens",
    "targets",
    "loss_mask",
    "segment_ids",
    "positions",
    "modality",
    "patch_index",
    "patch_coords",
    "frame_index",
    "frame_coords",
)


def first_fit(sizes: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Row and per-feature offsets for each element (`sizes` [n, k] vs `capacity` [k])."""
    rows, offsets, used = pack_kernel.first_fit(
        np.ascontiguousarray(sizes, dtype=np.int64), np.asarray(capacity, dtype=np.int64)
    )
    return rows, offsets, int(used)


def _concat_positions(parts: Sequence[Part], lengths: np.ndarray) -> np.ndarray:
    """Every record's `[n, 4]` positions, end to end; text ids go in without a per-record copy."""
    seq = np.zeros((int(lengths.sum()), 4), dtype=np.int32)
    if not len(seq):
        return seq
    seq[:, 0] = np.concatenate(
        [p if isinstance(p, np.ndarray) else p["seq"][:, 0] for p in parts], dtype=np.int32
    )
    seq[:, 1] = TEXT
    start = 0
    for part, length in zip(parts, lengths.tolist(), strict=True):
        if not isinstance(part, np.ndarray):
            seq[start : start + length, 1:] = part["seq"][:, 1:]
        start += length
    return seq


def pack_block(
    parts: Sequence[Part],
    *,
    seq_len: int,
    max_patches: int,
    max_frames: int,
    marker_ids: Iterable[int],
    patch_dim: int,
    frame_dim: int,
) -> PackedRows:
    """First-fit a block's records into rows carrying the model's fields.

    Media stay ragged (`[used, D]`) so a block crossing a process boundary carries only
    real pixels; `assemble` pads them to the batch's fixed capacity.
    """
    sizes = np.zeros((len(parts), 3), dtype=np.int64)
    for j, part in enumerate(parts):
        if isinstance(part, np.ndarray):
            sizes[j, 0] = len(part)
        else:
            sizes[j] = len(part["seq"]), len(part["patches"]), len(part["frames"])
    capacity = np.array([seq_len, max_patches, max_frames], dtype=np.int64)
    too_big = np.flatnonzero((sizes > capacity).any(axis=1))
    if len(too_big):
        raise ValueError(
            f"a record needs {sizes[too_big[0]].tolist()} (positions, patches, frames); "
            f"rows hold {capacity.tolist()}: raise max_patches / max_frames"
        )
    rows, offsets, n_rows = pack_kernel.first_fit(sizes, capacity)
    lengths = sizes[:, 0]
    computed = pack_kernel.fill_fields(
        _concat_positions(parts, lengths),
        lengths,
        rows,
        offsets[:, 0].copy(),
        n_rows,
        seq_len,
        np.fromiter(marker_ids, dtype=np.int32),
    )
    fields = dict(zip(_KERNEL_FIELDS, computed, strict=True))
    media: dict[str, np.ndarray] = {}
    bounds: dict[str, np.ndarray] = {}
    # Media in (row, arrival) order: the order their positions take in each row.
    order = np.argsort(rows, kind="stable").tolist()
    for f, key, dim, dtype in (
        (1, "patches", patch_dim, np.uint8),
        (2, "frames", frame_dim, np.float16),
    ):
        pieces = [parts[j][key] for j in order if sizes[j, f]]
        media[key] = np.concatenate(pieces) if pieces else np.zeros((0, dim), dtype=dtype)
        per_row = np.bincount(rows, weights=sizes[:, f], minlength=n_rows).astype(np.int64)
        bounds[key] = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    return PackedRows(fields, media, bounds)


class PackedRows:
    """A packed block: `[R, ...]` field arrays plus each row's media, concatenated.

    A few large arrays rather than R dicts of small ones, because grain's worker
    processes pickle every block on its way to the trainer's process.
    """

    def __init__(
        self,
        fields: dict[str, np.ndarray],
        media: dict[str, np.ndarray],
        bounds: dict[str, np.ndarray],
    ):
        self.fields = fields
        self.media = media
        self.bounds = bounds

    def __len__(self) -> int:
        return len(self.fields["tokens"])

    def __getitem__(self, r: int) -> RowRef:
        return RowRef(self, r)


class RowRef:
    """Row `r` of a packed block, by reference: `assemble` slices runs of rows at once."""

    __slots__ = ("block", "r")

    def __init__(self, block: PackedRows, r: int):
        self.block, self.r = block, r

    def __getitem__(self, name: str) -> np.ndarray:
        if name in MEDIA:
            bounds = self.block.bounds[name]
            return self.block.media[name][bounds[self.r] : bounds[self.r + 1]]
        return self.block.fields[name][self.r]


def _runs(rows: Sequence[RowRef]) -> list[tuple[PackedRows, int, int]]:
    """Consecutive rows of one block, as (block, first, end)."""
    runs: list[tuple[PackedRows, int, int]] = []
    for row in rows:
        if runs and runs[-1][0] is row.block and runs[-1][2] == row.r:
            block, first, _ = runs[-1]
            runs[-1] = (block, first, row.r + 1)
        else:
            runs.append((row.block, row.r, row.r + 1))
    return runs


def assemble(rows: Sequence[RowRef], *, max_patches: int, max_frames: int) -> dict[str, np.ndarray]:
    """Rows -> one batch with exactly `model.batch`'s fields, dtypes and fixed shapes.

    A batch is mostly a slice of one or two packed blocks, so fields are copied run by
    run rather than row by row.
    """
    runs = _runs(rows)
    batch: dict[str, np.ndarray] = {}
    for name in FIELDS:
        if name in MEDIA:
            continue
        parts = [block.fields[name][first:end] for block, first, end in runs]
        batch[name] = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
    for key, capacity in (("patches", max_patches), ("frames", max_frames)):
        first_media = runs[0][0].media[key]
        out = np.zeros((len(rows), capacity, first_media.shape[1]), dtype=first_media.dtype)
        i = 0
        for block, first, end in runs:
            bounds, media = block.bounds[key], block.media[key]
            for r in range(first, end):
                if bounds[r + 1] > bounds[r]:
                    out[i, : bounds[r + 1] - bounds[r]] = media[bounds[r] : bounds[r + 1]]
                i += 1
        batch[key] = out
    return {name: batch[name].astype(_DTYPES[name], copy=False) for name in FIELDS}


def fill_rate(batch: dict[str, np.ndarray]) -> float:
    """Share of sequence positions holding data rather than padding."""
    return float(np.mean(batch["modality"] != PAD))
