"""Strings that UTF-8 cannot encode, found and escaped the same way everywhere.

Python strings may hold lone surrogates: a JSON escape such as `"\\ud800"` decodes to
one, and file or tar member names with undecodable bytes arrive surrogate-escaped.
Every hash, coder and writer downstream encodes to UTF-8 and would fail on them, so
the readers refuse them in ids and texts, and whatever is written out for a human
(side lines, metadata) escapes them into plain `\\udXXX` text instead.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_encodable(text: str) -> bool:
    """True when `text` encodes to UTF-8 (it holds no lone surrogate)."""
    if text.isascii():  # most text, checked without copying it
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_unencodable(text: str) -> str:
    """`text` with each lone surrogate written as `\\udXXX`; unchanged when already encodable.

    Inside JSON text the escape reads back as the same surrogate, so metadata keeps its
    exact value while its bytes stay valid UTF-8.
    """
    if is_encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def has_control_characters(text: str) -> bool:
    """C0/C1 control characters (NUL, escape, unit separators, ...), which no id should hold."""
    return _CONTROL.search(text) is not None
