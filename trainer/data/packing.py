"""Multimodal packing: grain's first-fit packer, then the model's batch fields.

grain's `FirstFitPackIterDataset` already packs several features with their own
capacities side by side, never splits an element, and numbers segments and positions
per row; so positions (`seq`, capacity L), image patches (capacity P) and stacked audio
frames (capacity F) are three features of one element and a record lands whole in one
row or waits for the next packing group. What grain cannot know is our layout: which
positions are text, which target a position predicts, and where in the row's media
arrays a media position points. `to_model_batch` derives those from the packed arrays,
vectorised over the batch. Because a record's patches are appended to a row in the same
order as its image positions, a position's patch row is simply the running count of
image positions in that row (likewise for audio).
"""

from __future__ import annotations

from collections.abc import Iterable

import grain
import numpy as np

from model.batch import AUDIO, FIELDS, IMAGE, PAD, TEXT
from trainer.data.layout import Element


def length_struct(seq_len: int, max_patches: int, max_frames: int) -> dict[str, int]:
    return {"seq": seq_len, "patches": max_patches, "frames": max_frames}


def pack(
    ds: grain.IterDataset[Element],
    *,
    seq_len: int,
    rows: int,
    max_patches: int,
    max_frames: int,
) -> grain.IterDataset[dict[str, np.ndarray]]:
    """Rows of `rows`-row packing groups, so every batch of `rows` is one whole group.

    A group always has all `rows` rows in use (first-fit closes a group only when an
    element fits no row, and an empty row fits any element), so at a batch boundary the
    packer's state points at the first record of the next batch: checkpoints there are
    exact in record terms, which is what lets `MixtureSchedule` change weights on resume.
    """
    return grain.experimental.FirstFitPackIterDataset(
        ds,
        length_struct=length_struct(seq_len, max_patches, max_frames),
        num_packing_bins=rows,
        shuffle_bins=False,
    )


def to_model_batch(packed: dict[str, np.ndarray], marker_ids: Iterable[int]) -> dict[str, np.ndarray]:
    """Packed `[B, ...]` arrays -> exactly the fields, dtypes and shapes of `model.batch`."""
    seq = packed["seq"]
    segment_ids = packed["seq_segment_ids"].astype(np.int32)
    modality = seq[..., 1].astype(np.int8)
    tokens = np.where(modality == TEXT, seq[..., 0], 0).astype(np.int32)
    is_image = modality == IMAGE
    is_audio = modality == AUDIO

    targets = np.zeros_like(tokens)
    targets[:, :-1] = tokens[:, 1:]
    next_is_text = np.zeros_like(is_image)
    next_is_text[:, :-1] = (modality[:, 1:] == TEXT) & (segment_ids[:, 1:] == segment_ids[:, :-1])
    markers = np.fromiter(marker_ids, dtype=np.int32)
    loss_mask = (modality == TEXT) & next_is_text & ~np.isin(targets, markers)
    targets = np.where(next_is_text, targets, 0).astype(np.int32)

    patch_index = np.where(is_image, np.cumsum(is_image, axis=1) - 1, 0).astype(np.int32)
    frame_index = np.where(is_audio, np.cumsum(is_audio, axis=1) - 1, 0).astype(np.int32)
    patch_coords = np.where(is_image[..., None], seq[..., 2:4], 0).astype(np.int32)
    frame_coords = np.where(is_audio, seq[..., 2], 0).astype(np.int32)
    positions = np.where(modality != PAD, packed["seq_positions"], 0).astype(np.int32)

    batch = {
        "tokens": tokens,
        "targets": targets,
        "loss_mask": loss_mask,
        "segment_ids": segment_ids,
        "positions": positions,
        "modality": modality,
        "patches": np.ascontiguousarray(packed["patches"], dtype=np.uint8),
        "patch_index": patch_index,
        "patch_coords": patch_coords,
        "frames": np.ascontiguousarray(packed["frames"], dtype=np.float16),
        "frame_index": frame_index,
        "frame_coords": frame_coords,
    }
    assert batch.keys() == FIELDS.keys()
    return batch


def fill_rate(batch: dict[str, np.ndarray]) -> float:
    """Share of sequence positions holding data rather than padding."""
    return float(np.mean(batch["modality"] != PAD))
