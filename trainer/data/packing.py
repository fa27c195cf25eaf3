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
Row = dict[str, np.ndarray]


def first_fit(sizes: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Row and per-feature offsets for each element (`sizes` [n, k] vs `capacity` [k])."""
    n = sizes.shape[0]
    free = np.empty((n, sizes.shape[1]), dtype=np.int64)
    rows = np.empty(n, dtype=np.int64)
    offsets = np.empty_like(sizes)
    used = 0
    for j in range(n):
        fits = np.flatnonzero((free[:used] >= sizes[j]).all(axis=1)) if used else ()
        row = int(fits[0]) if len(fits) else used
        if row == used:
            free[used] = capacity
            used += 1
        rows[j] = row
        offsets[j] = capacity - free[row]
        free[row] -= sizes[j]
    return rows, offsets, used


def derive_fields(
    seq: np.ndarray, segment_ids: np.ndarray, positions: np.ndarray, marker_ids: Iterable[int]
) -> dict[str, np.ndarray]:
    """`[R, L, 4]` packed positions -> the model's per-position fields (no media arrays)."""
    modality = seq[..., 1].astype(np.int8)
    tokens = np.where(modality == TEXT, seq[..., 0], 0).astype(np.int32)
    is_image = modality == IMAGE
    is_audio = modality == AUDIO
    targets = np.zeros_like(tokens)
    targets[:, :-1] = tokens[:, 1:]
    next_is_text = np.zeros_like(is_image)
    next_is_text[:, :-1] = (modality[:, 1:] == TEXT) & (segment_ids[:, 1:] == segment_ids[:, :-1])
    markers = np.fromiter(marker_ids, dtype=np.int32)
    return {
        "tokens": tokens,
        "targets": np.where(next_is_text, targets, 0).astype(np.int32),
        "loss_mask": (modality == TEXT) & next_is_text & ~np.isin(targets, markers),
        "segment_ids": segment_ids,
        "positions": np.where(modality != PAD, positions, 0).astype(np.int32),
        "modality": modality,
        "patch_index": np.where(is_image, np.cumsum(is_image, axis=1) - 1, 0).astype(np.int32),
        "patch_coords": np.where(is_image[..., None], seq[..., 2:4], 0).astype(np.int32),
        "frame_index": np.where(is_audio, np.cumsum(is_audio, axis=1) - 1, 0).astype(np.int32),
        "frame_coords": np.where(is_audio, seq[..., 2], 0).astype(np.int32),
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

    Media stay ragged (`[used, D]`) so a block crossing a process boundary carries only
    real pixels; `assemble` pads them to the batch's fixed capacity.
    """
    sizes = np.array(
        [[len(e["seq"]), len(e["patches"]), len(e["frames"])] for e in elements], dtype=np.int64
    )
    capacity = np.array([seq_len, max_patches, max_frames], dtype=np.int64)
    too_big = np.flatnonzero((sizes > capacity).any(axis=1))
    if len(too_big):
        raise ValueError(
            f"a record needs {sizes[too_big[0]].tolist()} (positions, patches, frames); "
            f"rows hold {capacity.tolist()}: raise max_patches / max_frames"
        )
    rows, offsets, n_rows = first_fit(sizes, capacity)
    seq = np.zeros((n_rows, seq_len, 4), dtype=np.int32)
    segment_ids = np.zeros((n_rows, seq_len), dtype=np.int32)
    positions = np.zeros((n_rows, seq_len), dtype=np.int32)
    segments_in_row = np.zeros(n_rows, dtype=np.int32)
    media: list[dict[str, list[np.ndarray]]] = [{k: [] for k in MEDIA} for _ in range(n_rows)]
    for element, row, (start, _, _), (n, _, _) in zip(elements, rows, offsets, sizes, strict=True):
        segments_in_row[row] += 1
        seq[row, start : start + n] = element["seq"]
        segment_ids[row, start : start + n] = segments_in_row[row]
        positions[row, start : start + n] = np.arange(n, dtype=np.int32)
        for key in MEDIA:
            if len(element[key]):
                media[row][key].append(element[key])
    fields = derive_fields(seq, segment_ids, positions, marker_ids)
    return PackedRows(fields, media, {key: elements[0][key][:0] for key in MEDIA})


class PackedRows:
    """A packed block: `[R, ...]` field arrays plus each row's media, concatenated.

    A few large arrays rather than R dicts of small ones, because grain's worker
    processes pickle every block on its way to the trainer's process.
    """

    def __init__(
        self,
        fields: dict[str, np.ndarray],
        media: list[dict[str, list[np.ndarray]]],
        empty: dict[str, np.ndarray],
    ):
        self.fields = fields
        self.media: dict[str, np.ndarray] = {}
        self.bounds: dict[str, np.ndarray] = {}
        for key in MEDIA:
            parts = [part for row in media for part in row[key]]
            self.media[key] = np.concatenate(parts) if parts else empty[key]
            counts = [sum(len(part) for part in row[key]) for row in media]
            self.bounds[key] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.fields["tokens"])

    def __getitem__(self, r: int) -> Row:
        row = {name: array[r] for name, array in self.fields.items()}
        for key in MEDIA:
            row[key] = self.media[key][self.bounds[key][r] : self.bounds[key][r + 1]]
        return row


def assemble(rows: Sequence[Row], *, max_patches: int, max_frames: int) -> dict[str, np.ndarray]:
    """Rows -> one batch with exactly `model.batch`'s fields, dtypes and fixed shapes."""
    batch = {name: np.stack([row[name] for row in rows]) for name in FIELDS if name not in MEDIA}
    for key, capacity in (("patches", max_patches), ("frames", max_frames)):
        first = rows[0][key]
        out = np.zeros((len(rows), capacity, first.shape[1]), dtype=first.dtype)
        for i, row in enumerate(rows):
            out[i, : len(row[key])] = row[key]
        batch[key] = out
    return {name: batch[name].astype(FIELDS[name][0], copy=False) for name in FIELDS}


def fill_rate(batch: dict[str, np.ndarray]) -> float:
    """Share of sequence positions holding data rather than padding."""
    return float(np.mean(batch["modality"] != PAD))
