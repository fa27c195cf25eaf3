"""Gopher repetition rules (Rae et al. 2021, table A1): repeated lines, paragraphs and n-grams.

Lines and paragraphs are compared as strings; n-grams of spaCy-English words are counted for every
configured n in one compiled call (`repeated_ngrams.ngram_chars`). Character counts follow the
paper: a top n-gram covers its words and the spaces between them; a duplicated n-gram span covers
its words' characters, and a span counted once is skipped so overlaps are not counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polymix.transforms.filters.base import Cut, Tags, failed_cuts, ratio
from polymix.transforms.filters.repeated_ngrams import ngram_chars
from polymix.transforms.filters.text import DocView


def duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and how many characters those repeats hold."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


class GopherRepetition:
    name = "gopher_repetition"

    def __init__(self, config: Any) -> None:
        self.config = config
        self._top = sorted(
            (int(n), float(t)) for n, t in config.max_top_ngram_char_fraction.items()
        )
        self._dup = sorted(
            (int(n), float(t)) for n, t in config.max_dup_ngram_char_fraction.items()
        )
        c = config
        self.cuts = (
            Cut("dup_paragraphs", "dup_para_fraction", ">", c.max_dup_para_fraction),
            Cut("dup_paragraph_chars", "dup_para_char_fraction", ">", c.max_dup_para_char_fraction),
            Cut("dup_lines", "dup_line_fraction", ">", c.max_dup_line_fraction),
            Cut("dup_line_chars", "dup_line_char_fraction", ">", c.max_dup_line_char_fraction),
            *(Cut(f"top_{n}gram", f"top_{n}gram_char_fraction", ">", t) for n, t in self._top),
            *(Cut(f"dup_{n}gram", f"dup_{n}gram_char_fraction", ">", t) for n, t in self._dup),
        )

    def tag(self, doc: DocView) -> Tags:
        text_chars = len(doc.text)
        paragraphs = doc.paragraphs
        para_dups, para_chars = duplicates(paragraphs)
        lines = doc.line_runs
        line_dups, line_chars = duplicates(lines)
        attributes: dict[str, Any] = {
            "dup_para_fraction": ratio(para_dups, len(paragraphs)),
            "dup_para_char_fraction": ratio(para_chars, text_chars),
            "dup_line_fraction": ratio(line_dups, len(lines)),
            "dup_line_char_fraction": ratio(line_chars, text_chars),
        }
        view = doc.words(self.config.words)
        longest = max((n for n, _ in self._top + self._dup), default=0)
        top, duplicate = ngram_chars(view.tokens, view.offsets, longest)
        for n, _ in self._top:
            attributes[f"top_{n}gram_char_fraction"] = ratio(top[n], text_chars)
        for n, _ in self._dup:
            attributes[f"dup_{n}gram_char_fraction"] = ratio(duplicate[n], text_chars)
        return Tags(attributes)

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return failed_cuts(self.cuts, attributes)
