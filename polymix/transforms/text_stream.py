"""A JSONL file's decompressed bytes as bounded lines: one chunk and one line in memory, never more.

    raw bytes ─► decompress (gzip | zstd | plain), ≤ CHUNK_BYTES out per step ─► split on \\n ─► Line

Memory: a compressed step yields at most `CHUNK_BYTES` (gzip: exact, via zlib's
`max_length`) or what `ZSTD_SLICE` compressed bytes can expand to (zstd's largest
expansion is one 128 KiB block per 4-byte RLE block: 2 KiB give at most 64 MiB). A line
is gathered only up to `max_line_bytes`; past it only its first `prefix_bytes` are kept
while the rest streams by to the next newline. So the splitter holds at most
`2 x max_line_bytes + 2 x CHUNK_BYTES` (the pieces and their join) plus one step.

How a stream ends, besides cleanly:
- `DecompressedTooLarge`: the file expanded past its allowance. Lines whose newline lies
  within it were yielded; the rest is not decompressed, so it cannot be counted.
- `CorruptStream`: the compressed data is damaged or truncated; everything decompressed
  before the damage was yielded, the rest cannot be decompressed.
- `OSError` (or whatever the file object raises): reading failed; the caller may reopen
  the file and skip what it already has (`skip_bytes`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

CHUNK_BYTES = 1 << 20
ZSTD_SLICE = 2048
_GZIP = 31  # zlib wbits: gzip header and trailer


class CorruptStream(Exception):
    """Compressed data that cannot be decompressed any further (damaged or truncated)."""


class DecompressedTooLarge(Exception):
    """The file expanded past the bytes it was allowed."""

    def __init__(self, allowed: int) -> None:
        super().__init__(f"expands past {allowed} bytes")
        self.allowed = allowed


class Line(NamedTuple):
    """One line without its newline; `data` is only a prefix when `size` exceeded the limit."""

    number: int  # 1-based
    data: bytes
    size: int
    too_long: bool = False


Reader = Callable[[int], bytes]


def _gunzip(read: Reader) -> Iterator[bytes]:
    """gzip members one after another (as `gzip` reads them), each step at most CHUNK_BYTES."""
    decoder = zlib.decompressobj(_GZIP)
    data, in_member = b"", False
    while True:
        if not data:
            data = read(CHUNK_BYTES)
            if not data:
                break
        if not in_member:
            if data[0] == 0 and not data.strip(b"\0"):  # zero padding after the last member
                data = b""
                continue
            in_member = True
        try:
            out = decoder.decompress(data, CHUNK_BYTES)
        except zlib.error as exc:
            raise CorruptStream(f"gzip: {exc}") from None
        if out:
            yield out
        if decoder.eof:
            data, decoder, in_member = decoder.unused_data, zlib.decompressobj(_GZIP), False
        else:
            data = decoder.unconsumed_tail
    while in_member and (out := decoder.decompress(b"", CHUNK_BYTES)):
        yield out
    if in_member and not decoder.eof:
        raise CorruptStream("gzip: the file ends inside a member (truncated)")


def _unzstd(read: Reader) -> Iterator[bytes]:
    """zstd frames one after another; fed in small slices, since zstd cannot cap its output."""
    import zstandard

    decoder = zstandard.ZstdDecompressor().decompressobj()
    in_frame = False
    while data := read(CHUNK_BYTES):
        view, offset = memoryview(data), 0
        while offset < len(view):
            piece = view[offset : offset + ZSTD_SLICE]
            offset += len(piece)
            in_frame = True
            try:
                out = decoder.decompress(piece)
            except zstandard.ZstdError as exc:
                raise CorruptStream(f"zstd: {exc}") from None
            if out:
                yield out
            if decoder.eof:
                rest = decoder.unused_data
                decoder, in_frame = zstandard.ZstdDecompressor().decompressobj(), False
                if rest:
                    view, offset = memoryview(bytes(rest) + bytes(view[offset:])), 0
    if in_frame:
        raise CorruptStream("zstd: the file ends inside a frame (truncated)")


def _plain(read: Reader) -> Iterator[bytes]:
    while data := read(CHUNK_BYTES):
        yield data


def compression_of(path: str) -> str:
    """gzip | zstd | none, from the file name as the reader's docs promise."""
    if path.endswith(".gz"):
        return "gzip"
    if path.endswith((".zst", ".zstd")):
        return "zstd"
    return "none"


DECOMPRESSORS: dict[str, Callable[[Reader], Iterator[bytes]]] = {
    "gzip": _gunzip,
    "zstd": _unzstd,
    "none": _plain,
}


def skip_bytes(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """`chunks` without their first `count` bytes: resuming a re-opened file where it failed."""
    for chunk in chunks:
        if count >= len(chunk):
            count -= len(chunk)
            continue
        yield chunk[count:] if count else chunk
        count = 0


class LineSplitter:
    """Bytes in, bounded `Line`s out; counts the bytes it saw so a reader can resume or stop.

    `allowed` caps the decompressed bytes: the chunk that crosses it is cut there, the
    lines completed before the cut are yielded, and `DecompressedTooLarge` is raised.
    """

    def __init__(self, max_line_bytes: int, prefix_bytes: int, allowed: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.prefix_bytes = prefix_bytes
        self.allowed = allowed
        self.consumed = 0  # bytes seen, complete lines or not: where a re-opened file resumes
        self.number = 0  # lines yielded so far
        self._pieces: list[bytes] = []
        self._pending = 0  # size of the line being gathered

    def lines(self, chunks: Iterator[bytes]) -> Iterator[Line]:
        for chunk in chunks:
            over = self.consumed + len(chunk) - self.allowed
            if over > 0:
                chunk = chunk[: len(chunk) - over]
            self.consumed += len(chunk)
            parts = chunk.split(b"\n")
            last = len(parts) - 1
            for index, part in enumerate(parts):
                if index == last:
                    self._gather(part)
                elif self._pending or len(part) > self.max_line_bytes:
                    yield self._finish(part)
                else:  # the common case: a whole line inside one chunk
                    self.number += 1
                    yield Line(self.number, part, len(part))
            if over > 0:
                raise DecompressedTooLarge(self.allowed)
        if self._pending:
            yield self._finish(b"")

    def _gather(self, part: bytes) -> None:
        if not part:
            return
        if self._pending <= self.max_line_bytes:
            self._pieces.append(part)
            if self._pending + len(part) > self.max_line_bytes:  # keep only the prefix from now on
                self._pieces = [b"".join(self._pieces)[: self.prefix_bytes]]
        self._pending += len(part)

    def _finish(self, last: bytes) -> Line:
        self._gather(last)
        size, pieces = self._pending, self._pieces
        self._pieces, self._pending = [], 0
        self.number += 1
        data = b"".join(pieces)
        if size > self.max_line_bytes:
            return Line(self.number, data[: self.prefix_bytes], size, too_long=True)
        return Line(self.number, data, size)
