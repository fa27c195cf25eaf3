"""`format: text`: one document per file (a book, a source file, a page), its id the file id.

The file (plain or compressed with any codec Beam detects) is decoded as UTF-8 while
it streams, a leading byte-order mark dropped, and gathered only up to
`read.max_text_chars` characters: a longer file is `read/text_too_long` as soon as it
passes the limit (the rest is not read; its first `read.rejected_prefix_bytes`
characters are kept), so a worker holds at most one text of `max_text_chars`
characters. Bytes that are not UTF-8 (a surrogate encoded in UTF-8 included) make the
file `read/invalid_utf8`; an empty file is `read/empty_file`; a file whose bytes cannot
all be read or decompressed is one `read/unreadable_file` (or
`read/decompressed_too_large`): a document is whole or not at all.
"""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Iterator
from typing import IO

from polymix.transforms.example import Example
from polymix.transforms.read_objects import Item, Opener, TextSourceSpec, rejection
from polymix.transforms.read_streams import open_stream, stop_reason
from polymix.transforms.text_stream import StreamStopped


class _Refused(Exception):
    """The file is not one usable document: `reason`, and a prefix of its text if it has one."""

    def __init__(self, reason: str, detail: str, prefix: str | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.prefix = reason, detail, prefix


def _gather(chunks: Iterator[bytes], limit: int, prefix_chars: int) -> str:
    """The decoded text, or `_Refused` once it is not UTF-8 or passes `limit` characters."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pieces: list[str] = []
    chars = offset = 0
    for chunk in itertools.chain(chunks, [b""]):  # b"": the end, where a cut character shows
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
        try:
            piece = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _Refused(
                "invalid_utf8", f"byte {offset - pending + exc.start}: {exc.reason}"
            ) from None
        offset += len(chunk)
        chars += len(piece)
        pieces.append(piece)
        if chars > limit:
            detail = f"more than read.max_text_chars {limit} characters; the rest is not read"
            raise _Refused("text_too_long", detail, "".join(pieces)[:prefix_chars])
    return "".join(pieces)


def read_document(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """The whole file as one example, or one rejection saying why not."""
    stream = open_stream(spec.limits, raw, open_file, path)
    limits = spec.limits
    original = {"file": file_id}
    try:
        text = _gather(stream.chunks(), limits.max_text_chars, limits.rejected_prefix_bytes)
    except _Refused as refused:
        yield rejection(spec, file_id, original, refused.reason, refused.detail, refused.prefix)
        return
    except StreamStopped as stop:
        reason, detail = stop_reason(stop, limits, path, file_id)
        yield rejection(spec, file_id, {**original, "bytes_read": stream.consumed}, reason, detail)
        return
    if not text:
        yield rejection(spec, file_id, original, "empty_file", "no text in file")
        return
    yield Example(spec.name, file_id, spec.modality, text=text, original=original)
