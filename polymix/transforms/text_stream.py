"""A file's decompressed bytes as bounded chunks and lines: one chunk and one line in memory, never more.

    raw bytes ─► decompress (`decompress.py`, ≤ CHUNK_BYTES out per step) ─► DecompressedStream
              ─► split on \\n ─► Line

`DecompressedStream` counts the decompressed bytes it handed out, so a read error is
retried once from the same byte (the file re-opened, what was already seen skipped)
and a file stops at its allowance. A line is gathered only up to `max_line_bytes`; past
it only its first `prefix_bytes` are kept while the rest streams by to the next newline.
So the splitter holds at most `2 x max_line_bytes + 2 x CHUNK_BYTES` (the pieces and
their join) plus one step.

How a stream ends, besides cleanly (each a `StreamStopped`, so a reader can turn the
part it could not read into one rejection):
- `DecompressedTooLarge`: the file expanded past its allowance. Everything within it was
  yielded; the rest is not decompressed, so it cannot be counted.
- `CorruptStream`: the compressed data is damaged or truncated; everything decompressed
  before the damage was yielded, the rest cannot be decompressed.
- `ReadFailed`: reading failed twice at the same place, or the file could not be re-opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

from polymix.transforms.decompress import DECOMPRESSORS, StreamStopped


class DecompressedTooLarge(StreamStopped):
    """The file expanded past the bytes it was allowed."""

    def __init__(self, allowed: int) -> None:
        super().__init__(f"expands past {allowed} bytes")
        self.allowed = allowed


class ReadFailed(StreamStopped):
    """Reading failed again after a re-open (or the re-open failed): `cause` says why."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(f"{what}: {type(cause).__name__}: {cause}")
        self.what = what
        self.cause = cause


class Line(NamedTuple):
    """One line without its newline; `data` is only a prefix when `size` exceeded the limit."""

    number: int  # 1-based
    data: bytes
    size: int
    too_long: bool = False


Opener = Callable[[], IO[bytes]]


def skip_bytes(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """`chunks` without their first `count` bytes: resuming a re-opened file where it failed."""
    for chunk in chunks:
        if count >= len(chunk):
            count -= len(chunk)
            continue
        yield chunk[count:] if count else chunk
        count = 0


class DecompressedStream:
    """One file's decompressed bytes, at most `allowed` of them, re-opened once after a read error."""

    def __init__(self, raw: IO[bytes], open_file: Opener, compression: str, allowed: int) -> None:
        self.raw, self.open_file = raw, open_file
        self.compression = compression
        self.allowed = allowed
        self.consumed = 0  # decompressed bytes handed out: where a re-opened file resumes

    def chunks(self) -> Iterator[bytes]:
        handle, reopened = self.raw, None
        try:
            while True:
                try:
                    yield from self._from(handle)
                    return
                except StreamStopped:
                    raise
                except Exception as exc:  # reading failed: try once more from the same byte
                    if reopened is not None:
                        raise ReadFailed("read failed twice", exc) from None
                    try:
                        handle = reopened = self.open_file()
                    except Exception as again:
                        raise ReadFailed("cannot reopen", again) from None
        finally:
            if reopened is not None:
                reopened.close()

    def _from(self, handle: IO[bytes]) -> Iterator[bytes]:
        for chunk in skip_bytes(DECOMPRESSORS[self.compression](handle.read), self.consumed):
            over = self.consumed + len(chunk) - self.allowed
            if over > 0:
                chunk = chunk[: len(chunk) - over]
            self.consumed += len(chunk)
            if chunk:
                yield chunk
            if over > 0:
                raise DecompressedTooLarge(self.allowed)


def stream_size(raw: IO[bytes]) -> int | None:
    """Bytes left in `raw`, when it can tell (for the expansion bound)."""
    try:
        start = raw.tell()
        end = raw.seek(0, 2)
        raw.seek(start)
        return end - start
    except Exception:
        return None


class LineSplitter:
    """Bytes in, bounded `Line`s out; a line past `max_line_bytes` keeps only a prefix."""

    def __init__(self, max_line_bytes: int, prefix_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.prefix_bytes = prefix_bytes
        self.number = 0  # lines yielded so far
        self._pieces: list[bytes] = []
        self._pending = 0  # size of the line being gathered

    def lines(self, chunks: Iterator[bytes]) -> Iterator[Line]:
        for chunk in chunks:
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
