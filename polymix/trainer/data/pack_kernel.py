"""Compiled inner loops of block packing: first-fit, then every model field in one pass.

In numpy, packing a block was a scatter plus a dozen whole-array passes (targets, masks,
running media counts), ~10 us per record on `benchmarks/loader.py`'s shards; the
first-fit scan itself had to be plain Python. Both loops here touch each position once,
so packing costs about what copying the positions costs. Compiled with numba, which the
MinHasher already uses; `cache=True` keeps the compiled code on disk, so grain's worker
processes load it rather than compile it again.
"""

from __future__ import annotations

import numba
import numpy as np

from polymix.model.batch import AUDIO, IMAGE, PAD, TEXT


@numba.njit(cache=True)
def first_fit(sizes: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Row and per-feature offsets for each element (`sizes` [n, k] vs `capacity` [k]).

    A record goes to the first open row with room for every feature. Rows that cannot
    take even the block's smallest record are skipped for good (`first_open`), so the
    scan stays short however many rows a block fills.
    """
    n, k = sizes.shape
    free = np.empty((max(n, 1), k), dtype=np.int64)
    closed = np.zeros(max(n, 1), dtype=np.bool_)
    rows = np.empty(n, dtype=np.int64)
    offsets = np.empty((n, k), dtype=np.int64)
    smallest = sizes[:, 0].min() if n else 0
    used = 0
    first_open = 0
    for j in range(n):
        row = -1
        for r in range(first_open, used):
            if closed[r]:
                continue
            fits = True
            for f in range(k):
                if free[r, f] < sizes[j, f]:
                    fits = False
                    break
            if fits:
                row = r
                break
        if row < 0:
            row = used
            used += 1
            for f in range(k):
                free[row, f] = capacity[f]
        rows[j] = row
        for f in range(k):
            offsets[j, f] = capacity[f] - free[row, f]
            free[row, f] -= sizes[j, f]
        if free[row, 0] < smallest:
            closed[row] = True
            while first_open < used and closed[first_open]:
                first_open += 1
    return rows, offsets, used


@numba.njit(cache=True)
def _place_records(
    seq, lengths, rows, starts, tokens, modality, segment_ids, positions, patch_coords,
    frame_coords,
):  # fmt: skip
    """Each record's positions into its row: kind, segment, position, token or media coords."""
    in_row = np.zeros(tokens.shape[0], dtype=np.int32)
    source = 0
    for j in range(len(lengths)):
        r = rows[j]
        in_row[r] += 1
        segment = in_row[r]
        for i in range(lengths[j]):
            p = starts[j] + i
            kind = seq[source + i, 1]
            modality[r, p] = kind
            segment_ids[r, p] = segment
            positions[r, p] = i
            if kind == TEXT:
                tokens[r, p] = seq[source + i, 0]
            elif kind == IMAGE:
                patch_coords[r, p, 0] = seq[source + i, 2]
                patch_coords[r, p, 1] = seq[source + i, 3]
            elif kind == AUDIO:
                frame_coords[r, p] = seq[source + i, 2]
        source += lengths[j]


@numba.njit(cache=True)
def _number_media_and_targets(
    tokens, modality, segment_ids, markers, targets, loss_mask, patch_index, frame_index
):
    """Per row: running patch and frame numbers, next-token targets and the loss mask."""
    n_rows, seq_len = tokens.shape
    for r in range(n_rows):
        patch, frame = 0, 0
        for p in range(seq_len):
            kind = modality[r, p]
            if kind == IMAGE:
                patch_index[r, p] = patch
                patch += 1
            elif kind == AUDIO:
                frame_index[r, p] = frame
                frame += 1
            if p + 1 < seq_len and kind != PAD:
                nxt = p + 1
                if modality[r, nxt] == TEXT and segment_ids[r, nxt] == segment_ids[r, p]:
                    target = tokens[r, nxt]
                    targets[r, p] = target
                    if kind == TEXT:
                        is_marker = False
                        for m in markers:
                            if target == m:
                                is_marker = True
                        loss_mask[r, p] = not is_marker


@numba.njit(cache=True)
def fill_fields(
    seq: np.ndarray,
    lengths: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    n_rows: int,
    seq_len: int,
    markers: np.ndarray,
):
    """Concatenated record positions (`seq` [total, 4], see `layout`) -> the model's fields.

    Returns (tokens, targets, loss_mask, segment_ids, positions, modality, patch_index,
    patch_coords, frame_index, frame_coords), each `[n_rows, seq_len, ...]`: record `j`
    fills row `rows[j]` from `starts[j]`, its segment id is its rank in the row, its
    positions restart at 0. A target is the next position's text id when that position
    is text of the same record; the loss is on for text predicting text, never a marker.
    """
    shape = (n_rows, seq_len)
    tokens = np.zeros(shape, dtype=np.int32)
    targets = np.zeros(shape, dtype=np.int32)
    loss_mask = np.zeros(shape, dtype=np.bool_)
    segment_ids = np.zeros(shape, dtype=np.int32)
    positions = np.zeros(shape, dtype=np.int32)
    modality = np.zeros(shape, dtype=np.int8)
    patch_index = np.zeros(shape, dtype=np.int32)
    patch_coords = np.zeros((n_rows, seq_len, 2), dtype=np.int32)
    frame_index = np.zeros(shape, dtype=np.int32)
    frame_coords = np.zeros(shape, dtype=np.int32)
    _place_records(
        seq, lengths, rows, starts, tokens, modality, segment_ids, positions, patch_coords,
        frame_coords,
    )  # fmt: skip
    _number_media_and_targets(
        tokens, modality, segment_ids, markers, targets, loss_mask, patch_index, frame_index
    )
    return (
        tokens,
        targets,
        loss_mask,
        segment_ids,
        positions,
        modality,
        patch_index,
        patch_coords,
        frame_index,
        frame_coords,
    )
