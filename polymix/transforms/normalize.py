"""Unicode and whitespace normalization applied to every text before hashing or tokenizing.

Exact deduplication hashes the normalized text, so two copies that differ only in
Unicode composition, trailing spaces or Windows line ends count as the same document.
"""

from __future__ import annotations

import re
import unicodedata

_LINE_ENDS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F (a test checks every code
# point); newline and tab are the two we keep. One C-level substitution replaces a per-character
# Python loop that every text with a line break used to take.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str) -> str:
    """Drop C0/C1 control characters (NUL, escape sequences, ...) but keep newline and tab."""
    return _CONTROL.sub("", text)


def normalize_text(
    text: str,
    *,
    unicode_form: str = "NFC",
    collapse_whitespace: bool = True,
    max_blank_lines: int = 1,
    strip_controls: bool = True,
) -> str:
    """Canonical form of a document: one Unicode form, `\\n` line ends, tidy whitespace."""
    text = _LINE_ENDS.sub("\n", text)
    if strip_controls:
        text = strip_control(text)
    if unicode_form != "none":
        text = unicodedata.normalize(unicode_form, text)
    if collapse_whitespace:
        lines = [_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
        kept: list[str] = []
        blank_run = 0
        for line in lines:
            blank_run = blank_run + 1 if not line else 0
            if blank_run <= max_blank_lines:
                kept.append(line)
        text = "\n".join(kept)
    return text.strip()
