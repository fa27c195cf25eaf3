"""Every compression Beam detects, decompressed in bounded steps: gzip, deflate, bzip2, xz/lzma, zstd.

The codec is chosen from the file name exactly as Beam's
`CompressionTypes.detect_compression_type` chooses it (same suffixes, case-insensitive,
same names), so a file Beam would read as compressed is read as compressed here. We do
not use Beam's `CompressedFile` itself: it has no bound on how far one read may expand,
and a truncated stream reads as a clean end.

Each step yields at most `CHUNK_BYTES` (gzip, deflate, bzip2, xz: the codec's
`max_length`) or what `ZSTD_SLICE` compressed bytes can expand to (zstd cannot cap its
output; its largest expansion is one 128 KiB block per 4-byte RLE block: 2 KiB give at
most 64 MiB). Concatenated members or streams are read one after another, as `gzip`,
`bz2`, `lzma` and Beam read them; zero bytes between or after them are padding. A stream
that is damaged, or that ends inside a member, raises `CorruptStream` after everything
decompressed before the damage was yielded. xz decoders may use at most `XZ_MEMLIMIT`
(a file asking for a larger dictionary is corrupt to us: `xz -9` needs 65 MiB).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any

CHUNK_BYTES = 1 << 20
ZSTD_SLICE = 2048
XZ_MEMLIMIT = 256 << 20
_GZIP_WBITS = 31  # gzip header and trailer
_ZLIB_WBITS = 15  # Beam's DEFLATE: zlib.decompressobj() / compressobj(..., DEFLATED)

# Beam's CompressionTypes values, by suffix, in the order Beam tries them.
SUFFIXES = {
    ".bz2": "bzip2",
    ".deflate": "deflate",
    ".gz": "gzip",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".xz": "lzma",
    ".lzma": "lzma",
}
UNCOMPRESSED = "uncompressed"

Reader = Callable[[int], bytes]


class StreamStopped(Exception):
    """A file's bytes cannot be read past this point."""


class CorruptStream(StreamStopped):
    """Compressed data that cannot be decompressed any further (damaged or truncated)."""


def compression_of(path: str) -> str:
    """The codec Beam would pick for `path`: bzip2 | deflate | gzip | zstd | lzma | uncompressed."""
    lowered = path.lower()
    for suffix, codec in SUFFIXES.items():
        if lowered.endswith(suffix):
            return codec
    return UNCOMPRESSED


def _zlib_members(read: Reader, wbits: int, name: str) -> Iterator[bytes]:
    """zlib-family members (gzip, zlib) one after another, each step at most CHUNK_BYTES."""
    decoder = zlib.decompressobj(wbits)
    data, in_member, members = b"", False, 0
    while True:
        if not data:
            data = read(CHUNK_BYTES)
            if not data:
                break
        if not in_member:
            if members and not (data := data.lstrip(b"\0")):  # padding after a member
                continue
            in_member = True
        try:
            out = decoder.decompress(data, CHUNK_BYTES)
        except zlib.error as exc:
            raise CorruptStream(f"{name}: {exc}") from None
        if out:
            yield out
        if decoder.eof:
            data, decoder = decoder.unused_data, zlib.decompressobj(wbits)
            in_member, members = False, members + 1
        else:
            data = decoder.unconsumed_tail
    while in_member and (out := decoder.decompress(b"", CHUNK_BYTES)):
        yield out
    if in_member and not decoder.eof:
        raise CorruptStream(f"{name}: the file ends inside a member (truncated)")


def _capped_streams(
    read: Reader, new_decoder: Callable[[], Any], error: type[Exception], name: str
) -> Iterator[bytes]:
    """bz2/lzma streams one after another; these decoders keep unread input themselves
    (`needs_input` False: more output is waiting for an empty call)."""
    decoder = new_decoder()
    data, in_stream, streams = b"", False, 0
    while True:
        if decoder.needs_input:
            if not data:
                data = read(CHUNK_BYTES)
                if not data:
                    break
            if not in_stream:
                if streams and not (data := data.lstrip(b"\0")):  # padding after a stream
                    continue
                in_stream = True
            piece, data = data, b""
        else:
            piece = b""
        try:
            out = decoder.decompress(piece, CHUNK_BYTES)
        except (error, EOFError, MemoryError) as exc:
            raise CorruptStream(f"{name}: {exc}") from None
        if out:
            yield out
        if decoder.eof:
            data, decoder = decoder.unused_data + data, new_decoder()
            in_stream, streams = False, streams + 1
    if in_stream:
        raise CorruptStream(f"{name}: the file ends inside a stream (truncated)")


def _gunzip(read: Reader) -> Iterator[bytes]:
    return _zlib_members(read, _GZIP_WBITS, "gzip")


def _inflate(read: Reader) -> Iterator[bytes]:
    return _zlib_members(read, _ZLIB_WBITS, "deflate")


def _bunzip2(read: Reader) -> Iterator[bytes]:
    return _capped_streams(read, bz2.BZ2Decompressor, OSError, "bzip2")


def _unxz(read: Reader) -> Iterator[bytes]:
    def decoder() -> lzma.LZMADecompressor:
        return lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=XZ_MEMLIMIT)

    return _capped_streams(read, decoder, lzma.LZMAError, "xz")


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


DECOMPRESSORS: dict[str, Callable[[Reader], Iterator[bytes]]] = {
    "gzip": _gunzip,
    "deflate": _inflate,
    "bzip2": _bunzip2,
    "lzma": _unxz,
    "zstd": _unzstd,
    UNCOMPRESSED: _plain,
}
