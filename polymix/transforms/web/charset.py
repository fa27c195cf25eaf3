"""Bytes of a web page to text, choosing the charset the way browsers do.

The order is the WHATWG one, because that is what the page's author saw: a byte-order mark,
then the HTTP `Content-Type` charset, then a `<meta charset>` in the first 1024 bytes. A
declaration that does not decode (a common lie) is skipped. Undeclared pages are tried as
UTF-8 and otherwise detected with uchardet (resiliparse, as DataTrove uses cchardet). Labels
are mapped as browsers map them (`iso-8859-1` is read as windows-1252, whose 0x80-0x9F are
curly quotes and dashes rather than control characters).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.\-]+)", re.IGNORECASE)
PRESCAN_BYTES = 1024  # the HTML standard's prescan window for <meta charset>


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # the Python codec that decoded it
    found_by: str  # bom | http | meta | utf-8 | detected


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    return map_encoding_to_html5(label.strip().strip("\"'"), fallback_utf8=False)


def meta_charset(body: bytes) -> str | None:
    """The charset a `<meta>` tag declares within the prescan window, as a codec name."""
    found = _META.search(body[:PRESCAN_BYTES])
    codec = _codec(found.group(1).decode("ascii")) if found else None
    if codec and codec.startswith("utf-16"):  # the bytes were readable as ASCII: not UTF-16
        return "utf-8"
    return codec


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_page(body: bytes, http_charset: str | None = None) -> Decoded:
    """The page's text; never raises (the last resort replaces what does not decode)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(codec, errors="replace")
            return Decoded(text, codec, "bom")
    for found_by, codec in (("http", _codec(http_charset)), ("meta", meta_charset(body))):
        if codec:
            text = _strict(body, codec)
            if text is not None:
                return Decoded(text, codec, found_by)
    text = _strict(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf-8")
    codec = detect_encoding(body) or "cp1252"
    return Decoded(body.decode(codec, errors="replace"), codec, "detected")
