"""Unicode and whitespace normalization applied to every text before hashing or tokenizing.

Exact deduplication hashes the normalized text, so two copies that differ only in
Unicode composition, trailing spaces or Windows line ends count as the same document.
"""

from __future__ import annotations

import re
import unicodedata

from polymix.core.config.text import NormalizeConfig

_LINE_ENDS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F (a test checks every code
# point); newline and tab are the two we keep. One C-level substitution replaces a per-character
# Python loop that every text with a line break used to take.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str) -> str:
    """Drop C0/C1 control characters (NUL, escape sequences, ...) but keep newline and tab."""
    return _CONTROL.sub("", text)


_LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")


def normalize_text(
    text: str,
    *,
    unicode_form: str = "NFC",
    collapse_whitespace: bool = True,
    max_blank_lines: int = 1,
    strip_controls: bool = True,
    keep_indentation: bool = False,
) -> str:
    """Canonical form of a document: one Unicode form, `\\n` line ends, tidy whitespace.

    `keep_indentation` (code) trims only what ends a line: leading and inner spacing
    carry meaning in code (Python blocks, aligned tables), so it is never folded there.
    """
    text = _LINE_ENDS.sub("\n", text)
    if strip_controls:
        text = strip_control(text)
    if unicode_form != "none":
        text = unicodedata.normalize(unicode_form, text)
    if collapse_whitespace:
        if keep_indentation:
            lines = [line.rstrip() for line in text.split("\n")]
        else:
            lines = [_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
        kept: list[str] = []
        blank_run = 0
        for line in lines:
            blank_run = blank_run + 1 if not line else 0
            if blank_run <= max_blank_lines:
                kept.append(line)
        text = "\n".join(kept)
    if keep_indentation:
        return _LEADING_BLANK_LINES.sub("", text).rstrip()
    return text.strip()


def normalize_source_text(text: str, config: NormalizeConfig, modality: str) -> str:
    """A source's text as every consumer must see it (the pipeline, `tag`, tokenizer
    training): the configured steps, with code's indentation kept."""
    return normalize_text(
        text,
        unicode_form=config.unicode_form,
        collapse_whitespace=config.collapse_whitespace,
        max_blank_lines=config.max_blank_lines,
        strip_controls=config.strip_control,
        keep_indentation=modality == "code",
    )
