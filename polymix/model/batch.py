"""The packed batch: what the loader (trainer/data) produces and the model consumes.

Fixed shapes so one compiled step serves every batch. `B` is the batch, `L` the
sequence length, `P` / `F` the per-row capacity of image patches / stacked audio frames.
Media positions do not carry their pixels inline: they index into `patches` / `frames`,
so a text-only batch costs only a `[B, 1, ...]` media array.
"""

from __future__ import annotations

import numpy as np

PAD, TEXT, IMAGE, AUDIO = 0, 1, 2, 3
MODALITY_IDS = {"pad": PAD, "text": TEXT, "image": IMAGE, "audio": AUDIO}

# name -> (dtype, shape in terms of B, L, P, F, D_patch, D_frame)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "tokens": ("int32", ("B", "L")),  # text ids (markers included); 0 at media/pad positions
    "targets": ("int32", ("B", "L")),  # next text id within the same segment
    "loss_mask": ("bool", ("B", "L")),  # True only where `targets` is a text token to predict
    "segment_ids": ("int32", ("B", "L")),  # 1.. per document in the row, 0 = padding
    "positions": ("int32", ("B", "L")),  # restart at 0 for every segment
    "modality": ("int8", ("B", "L")),  # PAD / TEXT / IMAGE / AUDIO
    "patches": ("uint8", ("B", "P", "D_patch")),  # flattened patch*patch*3 pixels
    "patch_index": ("int32", ("B", "L")),  # row into `patches` at IMAGE positions, else 0
    "patch_coords": ("int32", ("B", "L", "2")),  # (row, col) in the image's patch grid
    "frames": ("float16", ("B", "F", "D_frame")),  # log-mel, `stack` frames concatenated
    "frame_index": ("int32", ("B", "L")),  # row into `frames` at AUDIO positions, else 0
    "frame_coords": ("int32", ("B", "L")),  # stacked-frame index within its audio block
}


def empty_batch(
    batch: int,
    seq_len: int,
    *,
    max_patches: int = 1,
    patch_dim: int = 16 * 16 * 3,
    max_frames: int = 1,
    frame_dim: int = 128,
) -> dict[str, np.ndarray]:
    """All-padding batch of the right shapes; the loader fills it, tests start from it."""
    sizes = {
        "B": batch,
        "L": seq_len,
        "P": max_patches,
        "F": max_frames,
        "D_patch": patch_dim,
        "D_frame": frame_dim,
        "2": 2,
    }
    return {
        name: np.zeros(tuple(sizes[d] for d in dims), dtype=dtype)
        for name, (dtype, dims) in FIELDS.items()
    }
