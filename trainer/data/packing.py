"""Multimodal packing of one block of records into rows, and rows into model batches.

Why not grain's `FirstFitPackIterDataset` (which we used first): it is a stateful stream
transform, so it must run after grain's worker processes (before them, batches would
depend on `worker_count`), i.e. single-threaded in the trainer's process, and it cost
about 65 us per record under the profiler; the loader reached 8-10k records/s with it
on `benchmarks/loader.py`'s demo shards against 13-14k with this block packer, both with
no workers. Packing each read block on its own is a pure function of the block, so it
runs inside grain's workers, and the first-fit below costs a few us per record. The
price: a block's last rows may be part-filled (fill rate is reported, ~0.95 there).

A record lands whole in one row (never split; the pipeline guarantees it fits), its
positions restart at 0, its segment id is its rank in the row, and its patches / frames
are appended to the row's media in order, so a media position's row in `patches` is the
running count of image positions in its row (likewise for audio).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from model.batch import AUDIO, FIELDS, IMAGE, PAD, TEXT
from trainer.data.layout import Element

MEDIA = ("patches", "frames")
_DTYPES = {name: np.dtype(dtype) for name, (dtype, _) in FIELDS.items()}


def first_fit(sizes: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Row and per-feature offsets for each element (`sizes` [n, k] vs `capacity` [k]).

    Plain Python over lists: a numpy call per record cost more than the whole scan.
    Each feature's free room is its own list, so the scan's usual failure (too few
    positions) is a single comparison; rows that cannot take even the block's smallest
    record leave the scan for good.
    """
    n, k = sizes.shape
    if k != 3:  # pack_block's case is (positions, patches, frames); pad to it
        if k > 3:
            raise ValueError(f"first_fit handles up to 3 features, got {k}")
        pad = 3 - k
        rows, offsets, used = first_fit(
            np.pad(sizes, ((0, 0), (0, pad))), np.pad(np.asarray(capacity), (0, pad))
        )
        return rows, offsets[:, :k], used
    cap0, cap1, cap2 = (int(c) for c in capacity)
    need0, need1, need2 = sizes.T.tolist()
    free0: list[int] = []
    free1: list[int] = []
    free2: list[int] = []
    rows = [0] * n
    off0, off1, off2 = [0] * n, [0] * n, [0] * n
    scan: list[int] = []  # rows still worth trying, in opening order
    smallest = min(need0) if n else 0
    for j in range(n):
        a, b, c = need0[j], need1[j], need2[j]
        for row in scan:
            if free0[row] >= a and free1[row] >= b and free2[row] >= c:
                break
        else:
            row = len(free0)
            free0.append(cap0)
            free1.append(cap1)
            free2.append(cap2)
            scan.append(row)
        rows[j] = row
        off0[j] = cap0 - free0[row]
        off1[j] = cap1 - free1[row]
        off2[j] = cap2 - free2[row]
        free0[row] -= a
        free1[row] -= b
        free2[row] -= c
        if free0[row] < smallest:
            scan.remove(row)
    offsets = np.array([off0, off1, off2], dtype=sizes.dtype).T.copy()
    return np.array(rows, dtype=np.int64), offsets, len(free0)


def derive_fields(
    seq: np.ndarray, segment_ids: np.ndarray, positions: np.ndarray, marker_ids: Iterable[int]
) -> dict[str, np.ndarray]:
    """`[R, L, 4]` packed positions -> the model's per-position fields (no media arrays)."""
    # int32 all the way (`copy=False`, int32 cumsums): each extra cast was a pass over
    # the block.
    i32 = np.int32
    modality = seq[..., 1].astype(np.int8)
    is_text = modality == TEXT
    tokens = np.where(is_text, seq[..., 0], 0).astype(i32, copy=False)
    is_image = modality == IMAGE
    is_audio = modality == AUDIO
    next_is_text = np.zeros_like(is_image)
    next_is_text[:, :-1] = is_text[:, 1:] & (segment_ids[:, 1:] == segment_ids[:, :-1])
    targets = np.zeros_like(tokens)
    targets[:, :-1] = tokens[:, 1:]
    targets *= next_is_text
    markers = np.fromiter(marker_ids, dtype=i32)
    return {
        "tokens": tokens,
        "targets": targets,
        "loss_mask": is_text & next_is_text & ~np.isin(targets, markers),
        "segment_ids": segment_ids,
        "positions": np.where(modality != PAD, positions, 0).astype(i32, copy=False),
        "modality": modality,
        "patch_index": np.where(is_image, np.cumsum(is_image, axis=1, dtype=i32) - 1, 0),
        "patch_coords": np.where(is_image[..., None], seq[..., 2:4], 0).astype(i32, copy=False),
        "frame_index": np.where(is_audio, np.cumsum(is_audio, axis=1, dtype=i32) - 1, 0),
        "frame_coords": np.where(is_audio, seq[..., 2], 0).astype(i32, copy=False),
    }


def pack_block(
    elements: Sequence[Element],
    *,
    seq_len: int,
    max_patches: int,
    max_frames: int,
    marker_ids: Iterable[int],
) -> PackedRows:
    """First-fit a block's records into rows carrying the model's fields.

    Every record's positions go to their rows in one scatter (no per-record numpy call
    besides the concatenation), which is what keeps packing at a few us per record.
    Media stay ragged (`[used, D]`) so a block crossing a process boundary carries only
    real pixels; `assemble` pads them to the batch's fixed capacity.
    """
    sizes = np.array(
        [[len(e["seq"]), len(e["patches"]), len(e["frames"])] for e in elements], dtype=np.int64
    ).reshape(len(elements), 3)
    capacity = np.array([seq_len, max_patches, max_frames], dtype=np.int64)
    too_big = np.flatnonzero((sizes > capacity).any(axis=1))
    if len(too_big):
        raise ValueError(
            f"a record needs {sizes[too_big[0]].tolist()} (positions, patches, frames); "
            f"rows hold {capacity.tolist()}: raise max_patches / max_frames"
        )
    rows, offsets, n_rows = first_fit(sizes, capacity)
    lengths = sizes[:, 0]
    total = int(lengths.sum())
    # Records in (row, arrival) order: the order of their positions and media in a row.
    order = np.argsort(rows, kind="stable")
    rank = np.empty(len(rows), dtype=np.int32)
    sorted_rows = rows[order]
    first_of_row = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank[order] = (np.arange(len(rows)) - first_of_row + 1).astype(np.int32)
    starts_in_concat = np.cumsum(lengths) - lengths
    shift = np.repeat(rows * seq_len + offsets[:, 0] - starts_in_concat, lengths)
    within = np.arange(total, dtype=np.int64)
    dest = shift + within
    seq = np.zeros((n_rows * seq_len, 4), dtype=np.int32)
    seq[dest] = np.concatenate([e["seq"] for e in elements])
    segment_ids = np.zeros(n_rows * seq_len, dtype=np.int32)
    segment_ids[dest] = np.repeat(rank, lengths)
    positions = np.zeros(n_rows * seq_len, dtype=np.int32)
    positions[dest] = within - np.repeat(starts_in_concat, lengths)
    fields = derive_fields(
        seq.reshape(n_rows, seq_len, 4),
        segment_ids.reshape(n_rows, seq_len),
        positions.reshape(n_rows, seq_len),
        marker_ids,
    )
    media: dict[str, np.ndarray] = {}
    bounds: dict[str, np.ndarray] = {}
    for f, key in ((1, "patches"), (2, "frames")):
        parts = [elements[j][key] for j in order.tolist() if sizes[j, f]]
        media[key] = np.concatenate(parts) if parts else elements[0][key][:0]
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
