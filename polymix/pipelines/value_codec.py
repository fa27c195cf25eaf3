"""Deterministic bytes for the free-form values elements carry (attributes, scores).

Most attribute trees are dicts of str, int, float, bool, None and lists: Beam's compiled
primitives coder in its deterministic mode (dict keys sorted) writes those at C speed.
What it refuses (numpy arrays and scalars, integers past 64 bits, lone surrogates, keys
of mixed types) goes through `_tree`, a small tagged encoding that keeps each value's
exact type, so a decoded tree equals the original and has the same types. Neither path
pickles, so equal trees give equal bytes in any process.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from apache_beam.coders import coder_impl
from apache_beam.coders.coder_impl import create_InputStream, create_OutputStream

_EMPTY, _PRIMITIVE, _TREE = 0, 1, 2
_NONE, _FALSE, _TRUE, _INT, _BIG, _FLOAT, _STR, _BYTES = range(8)
_LIST, _TUPLE, _DICT, _SET, _FROZENSET, _ARRAY, _SCALAR = range(8, 15)
_DOUBLE = struct.Struct(">d")
_LENGTH = struct.Struct(">I")


class _Refuse(coder_impl.StreamCoderImpl):
    """The compiled coder's fallback: refuse, so the value takes the tree path instead."""

    def encode_to_stream(self, value, stream, nested):
        raise TypeError(f"no primitive encoding for {type(value).__name__}")

    def decode_from_stream(self, stream, nested):
        raise TypeError("no primitive encoding")


_PRIMITIVES = coder_impl.FastPrimitivesCoderImpl(
    _Refuse(), requires_deterministic_step_label="polymix element values"
)


def write_value(out, value: Any) -> None:
    """Append `value` to a Beam output stream; `read_value` gives it back."""
    if type(value) is dict and not value:  # most elements before the filters
        out.write_byte(_EMPTY)
        return
    scratch = create_OutputStream()
    try:
        _PRIMITIVES.encode_to_stream(value, scratch, True)
    except (TypeError, ValueError, UnicodeEncodeError, OverflowError):
        out.write_byte(_TREE)
        out.write(_tree_bytes(value), True)
        return
    out.write_byte(_PRIMITIVE)
    out.write(scratch.get(), True)


def read_value(stream) -> Any:
    """The value `write_value` wrote at the stream's position."""
    kind = stream.read_byte()
    if kind == _EMPTY:
        return {}
    data = stream.read_all(True)
    if kind == _PRIMITIVE:
        return _PRIMITIVES.decode_from_stream(create_InputStream(data), True)
    value, end = _read_tree(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after an encoded value")
    return value


def _tree_bytes(value: Any) -> bytes:
    out = bytearray()
    _write_tree(out, value)
    return bytes(out)


def _chunk(out: bytearray, tag: int, data: bytes) -> None:
    out.append(tag)
    out += _LENGTH.pack(len(data))
    out += data


def _write_tree(out: bytearray, value: Any) -> None:  # noqa: C901 - one branch per type
    t = type(value)
    if value is None:
        out.append(_NONE)
    elif t is bool:
        out.append(_TRUE if value else _FALSE)
    elif t is int:
        _chunk(out, _INT, str(value).encode())
    elif t is float:
        out.append(_FLOAT)
        out += _DOUBLE.pack(value)
    elif t is str:
        _chunk(out, _STR, value.encode("utf-8", "surrogatepass"))
    elif t is bytes:
        _chunk(out, _BYTES, value)
    elif t is list or t is tuple:
        _items(out, _LIST if t is list else _TUPLE, value)
    elif t is dict:
        pairs = sorted((_tree_bytes(k), _tree_bytes(v)) for k, v in value.items())
        out.append(_DICT)
        out += _LENGTH.pack(len(pairs))
        for key, item in pairs:
            out += key + item
    elif t is set or t is frozenset:
        out.append(_SET if t is set else _FROZENSET)
        parts = sorted(_tree_bytes(v) for v in value)
        out += _LENGTH.pack(len(parts)) + b"".join(parts)
    elif t is np.ndarray:
        _array(out, value)
    elif isinstance(value, np.generic) and value.dtype.kind in "biufcSUmM":
        _chunk(out, _SCALAR, value.dtype.str.encode())
        out += np.asarray(value).tobytes()
    else:
        raise TypeError(f"cannot encode {t.__name__} deterministically")


def _items(out: bytearray, tag: int, values) -> None:
    out.append(tag)
    out += _LENGTH.pack(len(values))
    for item in values:
        _write_tree(out, item)


def _array(out: bytearray, array: np.ndarray) -> None:
    if array.dtype.hasobject:
        raise TypeError("cannot encode an object array deterministically")
    _chunk(out, _ARRAY, array.dtype.str.encode())
    out += _LENGTH.pack(array.ndim)
    for size in array.shape:
        out += _LENGTH.pack(size)
    _chunk(out, _BYTES, np.ascontiguousarray(array).tobytes())


def _read_chunk(data: bytes, at: int) -> tuple[bytes, int]:
    (size,) = _LENGTH.unpack_from(data, at)
    return data[at + 4 : at + 4 + size], at + 4 + size


def _read_tree(data: bytes, at: int) -> tuple[Any, int]:  # noqa: C901 - one branch per type
    tag = data[at]
    at += 1
    if tag in (_NONE, _FALSE, _TRUE):
        return (None, False, True)[tag], at
    if tag == _FLOAT:
        return _DOUBLE.unpack_from(data, at)[0], at + 8
    if tag in (_INT, _STR, _BYTES):
        raw, at = _read_chunk(data, at)
        if tag == _INT:
            return int(raw), at
        return (raw.decode("utf-8", "surrogatepass") if tag == _STR else raw), at
    if tag == _ARRAY:
        return _read_array(data, at)
    if tag == _SCALAR:
        dtype, at = _read_chunk(data, at)
        kind = np.dtype(dtype.decode())
        return np.frombuffer(data, kind, 1, at)[0], at + kind.itemsize
    (count,) = _LENGTH.unpack_from(data, at)
    at += 4
    if tag == _DICT:
        result = {}
        for _ in range(count):
            key, at = _read_tree(data, at)
            result[key], at = _read_tree(data, at)
        return result, at
    items = []
    for _ in range(count):
        item, at = _read_tree(data, at)
        items.append(item)
    container = {_LIST: list, _TUPLE: tuple, _SET: set, _FROZENSET: frozenset}[tag]
    return (items if tag == _LIST else container(items)), at


def _read_array(data: bytes, at: int) -> tuple[np.ndarray, int]:
    dtype, at = _read_chunk(data, at)
    (ndim,) = _LENGTH.unpack_from(data, at)
    shape = struct.unpack_from(f">{ndim}I", data, at + 4)
    raw, at = _read_chunk(data, at + 4 + 4 * ndim + 1)
    return np.frombuffer(raw, np.dtype(dtype.decode())).reshape(shape).copy(), at
