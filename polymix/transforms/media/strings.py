"""Names and captions made safe to write: valid UTF-8, bounded, the same on every machine.

Names come from file systems and tar headers as bytes; Python decodes the bytes that
are not UTF-8 into lone surrogates (`surrogateescape`), which no UTF-8 writer accepts,
so one odd name would fail the run where its id is written. Such a byte becomes the
four characters `\\xNN` (what `backslashreplace` writes) and any other lone surrogate
`\\udNNN`: valid text, and distinct bytes stay distinct. Captions are prose, so a lone
surrogate there (JSON may spell one as `"\\ud800"`) becomes U+FFFD, as a UTF-8 decoder
does for a broken sequence.
"""

from __future__ import annotations

import hashlib
import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # what surrogateescape makes of bytes 0x80-0xFF
MAX_NAME_CHARS = 1024  # longer names keep a prefix and a hash of the whole


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code - 0xDC00:02x}" if code in _ESCAPED_BYTES else f"\\u{code:04x}"


def safe_name(name: str) -> str:
    """`name` as valid UTF-8 text of at most `MAX_NAME_CHARS` characters, deterministically."""
    if _LONE_SURROGATE.search(name):
        name = _LONE_SURROGATE.sub(_escape, name)
    if len(name) > MAX_NAME_CHARS:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        name = f"{name[: MAX_NAME_CHARS - 24]}...#{digest}"
    return name


def repair_text(text: str) -> tuple[str, int]:
    """(text with each lone surrogate replaced by U+FFFD, how many were replaced)."""
    repaired, count = _LONE_SURROGATE.subn("\ufffd", text)
    return repaired, count
