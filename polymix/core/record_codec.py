"""The on-disk record format shared by the pipeline (writer) and the trainer (reader).

One ArrayRecord record holds one training example. The format is versioned and
self-describing so a trainer built months later can refuse what it does not
understand, and it never uses pickle, so reading a shard cannot execute code.

Layout (little endian)::

    b"PMXR" | version: u8 | pad: 3 bytes | header_len: u32 | header (UTF-8 JSON) | pad to 64
    | array 0 bytes | pad to 64 | array 1 bytes | ...

The header holds the scalar fields and, per array, its dtype, shape and byte offset.
Arrays are 64-byte aligned so `decode` returns read-only `np.frombuffer` views into the
record bytes: no copy, whatever the array size.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

MAGIC = b"PMXR"
VERSION = 1
ALIGN = 64
_PREFIX = struct.Struct("<4sB3xI")
# Only plain numeric dtypes travel: an object dtype would need pickle.
ALLOWED_DTYPES = frozenset(
    ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
    + ["float16", "float32", "float64", "bool"]
)
REQUIRED_FIELDS = ("source", "id", "modality")


class RecordFormatError(ValueError):
    """A record that is not a polymix record of a version this code understands."""


def _padding(n: int) -> int:
    return (-n) % ALIGN


def encode(fields: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialize scalar `fields` (JSON-able) and numpy `arrays` into one record.

    Output bytes depend only on the inputs (sorted keys, fixed padding), so the same
    example always produces the same shard bytes.
    """
    missing = [name for name in REQUIRED_FIELDS if name not in fields]
    if missing:
        raise RecordFormatError(f"record is missing required field(s) {missing}")
    clash = sorted(set(fields) & set(arrays))
    if clash:
        raise RecordFormatError(f"names used both as field and array: {clash}")
    specs: dict[str, dict[str, Any]] = {}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype.name not in ALLOWED_DTYPES:
            raise RecordFormatError(
                f"array {name!r} has dtype {dtype}, allowed: {sorted(ALLOWED_DTYPES)}"
            )
        raw = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")).tobytes()
        specs[name] = {"dtype": dtype.name, "shape": list(array.shape), "offset": offset}
        blobs.append(raw + b"\0" * _padding(len(raw)))
        offset += len(raw) + _padding(len(raw))
    header = json.dumps(
        {"fields": dict(fields), "arrays": specs},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    head = _PREFIX.pack(MAGIC, VERSION, len(header)) + header
    return head + b"\0" * _padding(len(head)) + b"".join(blobs)


class Record:
    """A decoded record: `fields` (scalars) and `arrays` (views into the record bytes)."""

    __slots__ = ("fields", "arrays")

    def __init__(self, fields: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.fields = fields
        self.arrays = arrays

    def __getitem__(self, name: str) -> Any:
        return self.arrays[name] if name in self.arrays else self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays or name in self.fields

    def __repr__(self) -> str:
        shapes = {k: (v.dtype.name, v.shape) for k, v in self.arrays.items()}
        return f"Record(fields={self.fields!r}, arrays={shapes!r})"


def decode(data: bytes | memoryview) -> Record:
    """Parse a record without copying array payloads; raises `RecordFormatError`."""
    if len(data) < _PREFIX.size:
        raise RecordFormatError(f"record of {len(data)} bytes is shorter than its prefix")
    magic, version, header_len = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise RecordFormatError(f"not a polymix record (magic {bytes(magic)!r})")
    if version != VERSION:
        raise RecordFormatError(
            f"record version {version} is not supported (this reader: {VERSION})"
        )
    start = _PREFIX.size
    try:
        header = json.loads(bytes(data[start : start + header_len]))
    except ValueError as exc:
        raise RecordFormatError(f"record header is not valid JSON: {exc}") from exc
    base = start + header_len
    base += _padding(base)
    arrays: dict[str, np.ndarray] = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"]).newbyteorder("<")
        shape = tuple(spec["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        end = base + spec["offset"] + count * dtype.itemsize
        if end > len(data):
            raise RecordFormatError(f"array {name!r} runs past the end of the record")
        arrays[name] = np.frombuffer(
            data, dtype=dtype, count=count, offset=base + spec["offset"]
        ).reshape(shape)
    return Record(header["fields"], arrays)
