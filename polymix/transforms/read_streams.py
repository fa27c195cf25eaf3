"""A text file's decompressed stream, bounded by `read.*`, and the rejection for what it could not give.

Shared by the line readers (JSONL, CSV) and the one-document-per-file reader: the
codec comes from the file name (`decompress.compression_of`, as Beam decides); a
compressed file may expand to `ReadConfig.expansion_limit` of its size, a plain file
streams as it is and cannot expand.
"""

from __future__ import annotations

from typing import IO

from polymix.core.config.read import ReadConfig
from polymix.transforms.decompress import UNCOMPRESSED, compression_of
from polymix.transforms.example import Rejection
from polymix.transforms.read_objects import Opener, TextSourceSpec, file_rejection
from polymix.transforms.text_stream import (
    DecompressedStream,
    DecompressedTooLarge,
    ReadFailed,
    StreamStopped,
    stream_size,
)

UNBOUNDED = 1 << 62


def open_stream(
    limits: ReadConfig, raw: IO[bytes], open_file: Opener, path: str
) -> DecompressedStream:
    """The file's decompressed bytes, at most as many as `read.*` allows it."""
    compression = compression_of(path)
    allowed = UNBOUNDED  # a plain file holds what it holds: it streams, nothing expands
    if compression != UNCOMPRESSED:
        allowed = limits.expansion_limit(stream_size(raw))
    return DecompressedStream(raw, open_file, compression, allowed)


def clean_error(exc: BaseException, path: str, file_id: str) -> str:
    """`Type: message` without the path the file was opened by (ids stay location-free)."""
    return f"{type(exc).__name__}: {exc}".replace(path, file_id)


def stop_reason(
    stop: StreamStopped, limits: ReadConfig, path: str, file_id: str
) -> tuple[str, str]:
    """(reason, detail) for a stream that stopped early."""
    if isinstance(stop, DecompressedTooLarge):
        keys = "read.max_decompressed_bytes"
        if stop.allowed < limits.max_decompressed_bytes:
            keys = "read.max_expansion_ratio"
        return (
            "decompressed_too_large",
            f"expands past {stop.allowed} bytes ({keys}); the rest is not decompressed",
        )
    if isinstance(stop, ReadFailed):
        return "unreadable_file", f"{stop.what}: {clean_error(stop.cause, path, file_id)}"
    return "unreadable_file", str(stop)


def rest_rejection(
    spec: TextSourceSpec,
    stop: StreamStopped,
    stream: DecompressedStream,
    first_line: int,
    path: str,
    file_id: str,
) -> Rejection:
    """The part of a file from `first_line` on that cannot be read: one input, since its
    lines cannot be counted."""
    reason, detail = stop_reason(stop, spec.limits, path, file_id)
    detail = f"from line {first_line} (byte {stream.consumed} decompressed): {detail}"
    return file_rejection(spec, file_id, reason, detail, from_line=first_line)
