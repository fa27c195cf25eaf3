"""One shard record -> one packable element: the positions it occupies, in order.

The pipeline stores media as arrays; the model wants one sequence. How many positions a
record occupies and which ids its markers have is `polymix.core.record_layout`'s to say
(the writer and the manifest count with it too); this module lays those positions out.

An element is three arrays, packed side by side into a row (`packing.pack_block`):

- ``seq`` int32 ``[n, 4]``: per position (text id or 0, modality id, coord a, coord b).
  Image positions carry their (row, col) in the patch grid, audio positions their
  stacked-frame index in ``a``; markers are text positions with the marker's id.
- ``patches`` uint8 ``[n_patches, patch_dim]`` in the order the image positions appear.
- ``frames`` float16 ``[n_stacked, n_mels * stack]`` in the order the audio positions appear.

Order inside a record: media blocks first (video: one image block per frame, then its
audio block), then the record's text (caption / transcript), so text is conditioned on
the media it describes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from polymix.core import record_codec, record_layout
from polymix.core.record_fast import quick_decode, text_tokens
from polymix.model.batch import AUDIO, IMAGE, TEXT

Element = dict[str, np.ndarray]


class RecordLayoutError(ValueError):
    """A record the loader cannot lay out; the message names the record and source."""


@dataclass(frozen=True)
class Layout:
    """What a row looks like: fixed dims so every element has the same trailing shapes."""

    seq_len: int
    patch_dim: int = 16 * 16 * 3
    n_mels: int = 128
    audio_stack: int = 4
    markers: Mapping[str, int] | None = None

    @property
    def frame_dim(self) -> int:
        return self.n_mels * self.audio_stack

    @functools.cached_property
    def marker_ids(self) -> dict[str, int]:
        """The manifest's marker ids (`markers`), or the defaults of older manifests."""
        return record_layout.marker_ids(self.markers)


@functools.lru_cache(maxsize=4096)
def _image_block(grid_rows: int, grid_cols: int, begin: int, end: int) -> np.ndarray:
    """Cached per grid shape (a handful of shapes per corpus); read-only, callers copy."""
    n = grid_rows * grid_cols
    block = np.zeros((n + 2, 4), dtype=np.int32)
    block[0] = (begin, TEXT, 0, 0)
    block[-1] = (end, TEXT, 0, 0)
    block[1:-1, 1] = IMAGE
    block[1:-1, 2] = np.repeat(np.arange(grid_rows, dtype=np.int32), grid_cols)
    block[1:-1, 3] = np.tile(np.arange(grid_cols, dtype=np.int32), grid_rows)
    block.setflags(write=False)
    return block


def _audio_block(n_stacked: int, begin: int, end: int) -> np.ndarray:
    block = np.zeros((n_stacked + 2, 4), dtype=np.int32)
    block[0] = (begin, TEXT, 0, 0)
    block[-1] = (end, TEXT, 0, 0)
    block[1:-1, 1] = AUDIO
    block[1:-1, 2] = np.arange(n_stacked, dtype=np.int32)
    return block


def stack_frames(mel: np.ndarray, stack: int) -> np.ndarray:
    """`[frames, n_mels]` -> `[ceil(frames/stack), stack*n_mels]`, zero-padding the tail."""
    frames, n_mels = mel.shape
    n_stacked = record_layout.stacked_frames(frames, stack)
    padded = np.zeros((n_stacked * stack, n_mels), dtype=np.float16)
    padded[:frames] = mel
    return padded.reshape(n_stacked, stack * n_mels)


def _grid(record: record_codec.Record, n_patches: int, where: str) -> tuple[int, int, int]:
    """(blocks, rows, cols) as `record_layout.grid_blocks` reads them, or a named error."""
    try:
        return record_layout.grid_blocks(record, n_patches)
    except ValueError as exc:
        raise RecordLayoutError(f"{_describe(record, where)}: {exc}") from None


@functools.lru_cache(maxsize=64)
def _empty(dim: int, dtype: str) -> np.ndarray:
    """A shared read-only `[0, dim]` array: most records have no media of a kind."""
    empty = np.zeros((0, dim), dtype=dtype)
    empty.setflags(write=False)
    return empty


@functools.lru_cache(maxsize=64)
def _text_rows(seq_len: int) -> np.ndarray:
    """`[seq_len, 4]` rows of a text position, id 0: a text record is a copy of a prefix."""
    rows = np.zeros((seq_len, 4), dtype=np.int32)
    rows[:, 1] = TEXT
    rows.setflags(write=False)
    return rows


def _describe(record: record_codec.Record, where: str) -> str:
    return where or f"record {record.fields.get('id')!r} of source {record.fields.get('source')!r}"


def to_element(record: record_codec.Record, layout: Layout, *, where: str = "") -> Element:
    """Lay a decoded record out as positions plus its media arrays (see module doc)."""
    if record.arrays.keys() == {"tokens"}:  # most records: text only
        tokens = record.arrays["tokens"]
        if tokens.ndim == 1 and len(tokens) <= layout.seq_len:
            seq = _text_rows(layout.seq_len)[: len(tokens)].copy()
            seq[:, 0] = tokens
            return {
                "seq": seq,
                "patches": _empty(layout.patch_dim, "uint8"),
                "frames": _empty(layout.frame_dim, "float16"),
            }
    markers = layout.marker_ids
    pieces: list[np.ndarray] = []
    counts: dict[str, int] = {}  # what `record_layout.positions` counts, as laid out here
    patches = _empty(layout.patch_dim, "uint8")
    frames = _empty(layout.frame_dim, "float16")
    if "patches" in record.arrays:
        patches = record.arrays["patches"]
        if patches.ndim != 2 or patches.shape[1] != layout.patch_dim or patches.dtype != np.uint8:
            raise RecordLayoutError(
                f"{_describe(record, where)}: patches {patches.dtype}{list(patches.shape)}, "
                f"loader expects uint8[n, {layout.patch_dim}]"
            )
        blocks, rows, cols = _grid(record, patches.shape[0], where)
        counts |= {"patches": patches.shape[0], "image_blocks": blocks}
        image = _image_block(rows, cols, markers["<image>"], markers["</image>"])
        pieces.extend([image] * blocks)
    if "mel" in record.arrays:
        stack = record.fields.get("stack", layout.audio_stack)
        if stack != layout.audio_stack:
            raise RecordLayoutError(
                f"{_describe(record, where)}: pipeline stacked audio by {stack}, loader by {layout.audio_stack}"
            )
        mel = record.arrays["mel"]
        if mel.ndim != 2 or mel.shape[1] != layout.n_mels or mel.shape[0] == 0:
            raise RecordLayoutError(
                f"{_describe(record, where)}: mel {list(mel.shape)}, loader expects [frames>0, {layout.n_mels}]"
            )
        frames = stack_frames(mel, layout.audio_stack)
        counts |= {"mel_frames": mel.shape[0], "stack": layout.audio_stack}
        pieces.append(_audio_block(frames.shape[0], markers["<audio>"], markers["</audio>"]))
    if "tokens" in record.arrays:
        tokens = record.arrays["tokens"].astype(np.int32, copy=False)
        counts["tokens"] = tokens.shape[0]
        text = np.zeros((tokens.shape[0], 4), dtype=np.int32)
        text[:, 0] = tokens
        text[:, 1] = TEXT
        pieces.append(text)
    if not pieces:
        raise RecordLayoutError(f"{_describe(record, where)}: no tokens, patches or mel")
    needed = record_layout.positions(**counts)
    if needed > layout.seq_len:
        raise RecordLayoutError(
            f"{_describe(record, where)}: needs {needed} positions, more than seq_len {layout.seq_len}; "
            "the pipeline must cut or reject such records"
        )
    seq = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return {"seq": seq, "patches": patches, "frames": frames}


def decode_element(data: bytes, layout: Layout, source: str) -> Element:
    """Bytes of one shard record -> element; module-level so worker processes can pickle it."""
    record = quick_decode(data)
    if record is None:
        try:
            record = record_codec.decode(data)
        except record_codec.RecordFormatError as exc:
            raise RecordLayoutError(f"source {source!r}: {exc}") from exc
    return to_element(record, layout)


# A part is what one record brings to a block: a text-only record's token ids (1-D), or
# the element of any other record. Text records are most of a corpus; leaving them as
# ids lets `packing` lay a whole block out at once instead of building [n, 4] per record.
Part = np.ndarray | Element


def decode_parts(records: list[bytes], layout: Layout, source: str) -> list[Part]:
    """Shard records -> parts for `packing.pack_block`; one call per source per block."""
    parts: list[Part] = []
    limit = layout.seq_len
    for data in records:
        tokens = text_tokens(data)
        if tokens is not None and len(tokens) <= limit:
            parts.append(tokens)
        else:  # media, or something `to_element` must name the problem of
            parts.append(decode_element(data, layout, source))
    return parts
