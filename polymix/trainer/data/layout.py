"""One shard record -> one packable element: the positions it occupies, in order.

The pipeline stores media as arrays; the model wants one sequence. This module is the
single place that decides how a record becomes positions, so the loader, the packer
and the mixture arithmetic agree with the pipeline's position count (text tokens, plus
per media block two markers and its patches or stacked audio frames).

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
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from polymix.model.batch import AUDIO, IMAGE, TEXT
from polymix.transforms import record_codec

MARKER_NAMES = ("<image>", "</image>", "<audio>", "</audio>")
# The SentencePiece trainer reserves the markers right after pad/bos/eos/unk (0..3), so
# these are the ids whenever a manifest predates `TokenizerInfo.specials`.
DEFAULT_MARKERS = {"<image>": 4, "</image>": 5, "<audio>": 6, "</audio>": 7}

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
        markers = dict(self.markers or DEFAULT_MARKERS)
        missing = [name for name in MARKER_NAMES if name not in markers]
        if missing:
            raise ValueError(f"marker ids missing for {missing}")
        return {name: int(markers[name]) for name in MARKER_NAMES}


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
    n_stacked = -(-frames // stack)
    padded = np.zeros((n_stacked * stack, n_mels), dtype=np.float16)
    padded[:frames] = mel
    return padded.reshape(n_stacked, stack * n_mels)


def _grid(record: record_codec.Record, n_patches: int, where: str) -> tuple[int, int, int]:
    """(blocks, rows, cols): `grid` is [rows, cols] per frame (video: `n_frames` frames,
    else as many as the patches make) or [frames, rows, cols]."""
    grid = [int(v) for v in np.asarray(record["grid"]).reshape(-1)]
    if len(grid) == 2:
        grid = [n_patches // max(1, grid[0] * grid[1]), *grid]
    frames = record.fields.get("n_frames", grid[0])
    if len(grid) != 3 or grid[0] * grid[1] * grid[2] != n_patches or grid[0] != frames:
        raise RecordLayoutError(
            f"{_describe(record, where)}: grid {grid} (n_frames {frames}) "
            f"does not match {n_patches} patches"
        )
    return grid[0], grid[1], grid[2]


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


def record_positions(record: record_codec.Record, layout: Layout) -> int:
    """Positions a record occupies: what the manifest's `tokens` counts."""
    return int(to_element(record, layout)["seq"].shape[0])


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
        pieces.append(_audio_block(frames.shape[0], markers["<audio>"], markers["</audio>"]))
    if "tokens" in record.arrays:
        tokens = record.arrays["tokens"].astype(np.int32, copy=False)
        text = np.zeros((tokens.shape[0], 4), dtype=np.int32)
        text[:, 0] = tokens
        text[:, 1] = TEXT
        pieces.append(text)
    if not pieces:
        raise RecordLayoutError(f"{_describe(record, where)}: no tokens, patches or mel")
    seq = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    if seq.shape[0] > layout.seq_len:
        raise RecordLayoutError(
            f"{_describe(record, where)}: needs {seq.shape[0]} positions, more than seq_len {layout.seq_len}; "
            "the pipeline must cut or reject such records"
        )
    return {"seq": seq, "patches": patches, "frames": frames}


_HEAD = record_codec._PREFIX.size
_scan_json = json.JSONDecoder().scan_once  # the C scanner, minus `json.loads`' wrapping
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in record_codec.ALLOWED_DTYPES}


def _quick_decode(data: bytes) -> record_codec.Record | None:
    """`record_codec.decode` for well-formed records, without its generic per-call costs.

    The loader decodes every record it reads, so the codec's per-record overheads
    (struct unpack, `np.prod`, dtype parsing, copying the header) were a third of the
    loader's time. Any irregularity returns None and the caller goes through
    `record_codec.decode`, which names what is wrong: only the fast path is duplicated,
    never the checks' messages.
    """
    if (
        not isinstance(data, bytes)
        or len(data) < _HEAD
        or data[:4] != record_codec.MAGIC
        or data[4] != record_codec.VERSION
    ):
        return None
    end = _HEAD + int.from_bytes(data[8:12], "little")
    try:
        text = data[_HEAD:end].decode()
        header, stop = _scan_json(text, 0)
        if stop != len(text):
            return None
        base = end + (-end) % record_codec.ALIGN
        arrays = {}
        for name, spec in header["arrays"].items():
            dtype = _DTYPES[spec["dtype"]]
            shape = spec["shape"]
            count = math.prod(shape)
            offset = base + spec["offset"]
            if offset + count * dtype.itemsize > len(data):
                return None
            array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
            arrays[name] = array if len(shape) == 1 else array.reshape(shape)
        return record_codec.Record(header["fields"], arrays)
    except (ValueError, KeyError, TypeError, StopIteration):
        return None


def decode_element(data: bytes, layout: Layout, source: str) -> Element:
    """Bytes of one shard record -> element; module-level so worker processes can pickle it."""
    record = _quick_decode(data)
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

_ARRAYS_KEY = b'{"arrays":'
_ARRAYS_AT = _HEAD + len(_ARRAYS_KEY)
_FIELDS_KEY = b',"fields":'
_LEAD = record_codec.MAGIC + bytes([record_codec.VERSION, 0, 0, 0])
_TEXT_SPECS: dict[bytes, tuple[int, int] | None] = {}
_TEXT_SPECS_MAX = 1 << 16


def _text_spec(arrays_json: bytes) -> tuple[int, int] | None:
    """(count, offset) when a record's arrays are exactly one int32 `tokens` vector."""
    try:
        arrays = json.loads(arrays_json)
        (name, spec), *rest = arrays.items()
        if rest or name != "tokens" or spec["dtype"] != "int32" or len(spec["shape"]) != 1:
            return None
        return int(spec["shape"][0]), int(spec["offset"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def text_tokens(data: bytes) -> np.ndarray | None:
    """A text-only record's token ids (a view into `data`), else None.

    The header's JSON is sorted, so `arrays` comes before `fields`; a text record's
    arrays part differs from another's only in its length, so it is parsed once per
    length and looked up after that, and the fields (ids, urls) are never parsed. Any
    other shape of header returns None and goes through `record_codec.decode`.
    """
    if data[:8] != _LEAD or data[_HEAD:_ARRAYS_AT] != _ARRAYS_KEY:
        return None
    end = _HEAD + int.from_bytes(data[8:12], "little")
    cut = data.find(_FIELDS_KEY, _ARRAYS_AT, end)
    if cut < 0:
        return None
    key = data[_ARRAYS_AT:cut]
    spec = _TEXT_SPECS.get(key, ())
    if spec == ():
        if len(_TEXT_SPECS) >= _TEXT_SPECS_MAX:
            _TEXT_SPECS.clear()
        spec = _TEXT_SPECS[key] = _text_spec(key)
    if spec is None:
        return None
    count, offset = spec
    start = end + (-end) % record_codec.ALIGN + offset
    if start + 4 * count > len(data):
        return None
    return np.frombuffer(data, dtype="<i4", count=count, offset=start)


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
