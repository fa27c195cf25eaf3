"""The loader's fast decoders: the same records `record_codec.decode` reads, cheaper.

They live beside the codec because they read its bytes directly (the prefix, the sorted
JSON header, the 64-byte alignment): a change to the encoder must change them too, and
`tests/core/test_record_layout.py` pins the bytes all of them read. Any record they do
not recognise returns None, and the caller goes through `record_codec.decode`, which
names what is wrong.
"""

from __future__ import annotations

import json
import math

import numpy as np

from polymix.core import record_codec

_HEAD = record_codec._PREFIX.size
_scan_json = json.JSONDecoder().scan_once  # the C scanner, minus `json.loads`' wrapping
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in record_codec.ALLOWED_DTYPES}


def quick_decode(data: bytes) -> record_codec.Record | None:
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
