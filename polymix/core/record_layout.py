"""How many sequence positions a record occupies, and which ids frame its media blocks.

The pipeline budgets records against `shards.max_seq_len`, the manifest counts kept data
in positions per kind, and the loader lays records out into packed rows. All three must
count alike, or a record the writer let through overflows a row, or the mixture planned
in positions trains on another mix. So the count and the marker ids live here, once:

- a text token is one position;
- an image block (one image, or one video frame) is its opening marker, its patches
  (rows * cols of them) and its closing marker;
- an audio block is its opening marker, ceil(mel frames / stack) stacked frames and its
  closing marker (no block when there are no frames).

Markers are text positions (the model embeds them as tokens), so `position_kinds` counts
them as text. `positions(...)` counts from sizes (the writer, before a record exists);
`record_positions(record)` from a decoded record (the manifest's and the loader's side). The ids are the tokenizer's reserved pieces, recorded in the manifest
(`TokenizerInfo.specials`); manifests written before that use `DEFAULT_MARKERS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from polymix.core.record_codec import Record

MARKER_NAMES = ("<image>", "</image>", "<audio>", "</audio>")
# The SentencePiece trainer reserves the markers right after pad/bos/eos/unk (0..3), so
# these are the ids whenever a manifest predates `TokenizerInfo.specials`.
DEFAULT_MARKERS: Mapping[str, int] = {"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7}
MARKERS_PER_BLOCK = 2  # an opening and a closing marker around each media block

TEXT, IMAGE, AUDIO = "text", "image", "audio"


def marker_ids(specials: Mapping[str, int] | None) -> dict[str, int]:
    """The four marker ids from a manifest's `specials` (empty or None: the defaults)."""
    markers = dict(specials or DEFAULT_MARKERS)
    missing = [name for name in MARKER_NAMES if name not in markers]
    if missing:
        raise ValueError(f"marker ids missing for {missing}")
    return {name: int(markers[name]) for name in MARKER_NAMES}


def stacked_frames(mel_frames: int, stack: int) -> int:
    """Audio positions of `mel_frames` frames, `stack` to a position (the tail zero-padded)."""
    return math.ceil(mel_frames / stack)


def grid_blocks(record: Record, n_patches: int) -> tuple[int, int, int]:
    """(blocks, rows, cols) of a record's patches; ValueError when they disagree.

    `grid` is [rows, cols] per block (a video has `n_frames` blocks, an image as many
    as its patches make) or [blocks, rows, cols].
    """
    grid = [int(v) for v in np.asarray(record["grid"]).reshape(-1)]
    if len(grid) == 2:
        grid = [n_patches // max(1, grid[0] * grid[1]), *grid]
    frames = record.fields.get("n_frames", grid[0])
    if len(grid) != 3 or grid[0] * grid[1] * grid[2] != n_patches or grid[0] != frames:
        raise ValueError(f"grid {grid} (n_frames {frames}) does not match {n_patches} patches")
    return grid[0], grid[1], grid[2]


def position_kinds(
    *, tokens: int = 0, patches: int = 0, image_blocks: int = 0, mel_frames: int = 0, stack: int = 1
) -> dict[str, int]:
    """Positions per kind (markers count as text) of a record holding these counts."""
    return {
        TEXT: tokens + image_blocks * MARKERS_PER_BLOCK + (MARKERS_PER_BLOCK if mel_frames else 0),
        IMAGE: patches,
        AUDIO: stacked_frames(mel_frames, stack) if mel_frames else 0,
    }


def positions(**counts: int) -> int:
    """Positions a record holding these counts occupies (see `position_kinds`)."""
    return sum(position_kinds(**counts).values())


def image_positions(n_patches: int, blocks: int = 1) -> int:
    """Positions of `blocks` image blocks holding `n_patches` patches between them."""
    return positions(patches=n_patches, image_blocks=blocks)


def audio_positions(mel_frames: int, stack: int) -> int:
    """Positions of one audio block of `mel_frames` frames; no frames, no block."""
    return positions(mel_frames=mel_frames, stack=stack)


def record_counts(record: Record, stack: int | None = None) -> dict[str, int]:
    """`position_kinds`' counts of a decoded record; `stack` defaults to the record's own."""
    arrays = record.arrays
    counts = {"tokens": len(arrays["tokens"]) if "tokens" in arrays else 0}
    if "patches" in arrays:
        n_patches = len(arrays["patches"])
        counts |= {"patches": n_patches, "image_blocks": grid_blocks(record, n_patches)[0]}
    if "mel" in arrays and len(arrays["mel"]):
        counts |= {"mel_frames": len(arrays["mel"])}
        counts["stack"] = stack if stack is not None else int(record.fields["stack"])
    return counts


def record_positions(record: Record, stack: int | None = None) -> int:
    """Positions a decoded record occupies: what the writer budgets against max_seq_len,
    the manifest counts as `tokens` and the loader packs."""
    return positions(**record_counts(record, stack))
