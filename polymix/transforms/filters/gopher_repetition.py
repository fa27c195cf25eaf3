"""Gopher repetition rules (Rae et al. 2021, table A1): repeated lines, paragraphs and n-grams.

N-grams are tuples of words, counted with `collections.Counter` and set operations in C; the
duplicate n-gram rule walks the text only when some n-gram repeats at all, and stops at the first
n with no repeats (a repeated 6-gram contains a repeated 5-gram). Character counts follow the
paper: a top n-gram covers its words and the spaces between them; a duplicated n-gram span
covers its words' characters, and a span counted once is skipped so overlaps are not counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import compress
from typing import Any

from polymix.transforms.filters.base import Cut, Tags, failed_cuts, ratio
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


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by the most frequent n-gram (the first to appear if several tie)."""
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    if not counts:
        return 0
    ((gram, count),) = counts.most_common(1)
    return (sum(map(len, gram)) + n - 1) * count


def duplicate_ngram_chars(words: list[str], offsets: list[int], n: int) -> int:
    """Characters in n-gram spans that repeat an earlier span, each character counted once.

    Only positions whose n-gram occurs more than once can ever match, so the walk visits just
    those; a position inside a span already counted is skipped, as in the paper's definition.
    """
    grams = _ngrams(words, n)
    counts = Counter(grams)
    if len(counts) == len(grams):
        return 0
    repeated = {gram for gram, count in counts.items() if count > 1}
    seen: set[tuple[str, ...]] = set()
    chars = resume = 0
    for i in compress(range(len(grams)), map(repeated.__contains__, grams)):
        if i < resume:
            continue
        gram = grams[i]
        if gram in seen:
            chars += offsets[i + n] - offsets[i]
            resume = i + n
        else:
            seen.add(gram)
    return chars


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
        words = doc.words
        for n, _ in self._top:
            attributes[f"top_{n}gram_char_fraction"] = ratio(top_ngram_chars(words, n), text_chars)
        repeats = True
        for n, _ in self._dup:
            chars = duplicate_ngram_chars(words, doc.word_offsets, n) if repeats else 0
            repeats = chars > 0
            attributes[f"dup_{n}gram_char_fraction"] = ratio(chars, text_chars)
        return Tags(attributes)

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return failed_cuts(self.cuts, attributes)
