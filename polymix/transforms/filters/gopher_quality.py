"""Gopher quality rules (Rae et al. 2021, "Scaling Language Models", appendix A.1.1).

Thresholds come from the config (`polymix.core.config.filters.GopherQualityConfig`), whose
defaults are the published values. Words are spaCy's English tokens (`text.DocView.words`); a
token made only of punctuation is not a word for the word-count and mean-length rules but counts
in the ratios' denominators, and "alphabetic" means `str.isalpha`, as in DataTrove, so both
implementations cut at the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polymix.transforms.filters.base import Cut, Tags, failed_cuts, ratio
from polymix.transforms.filters.text import DocView


class GopherQuality:
    name = "gopher_quality"

    def __init__(self, config: Any) -> None:
        self.config = config
        self._stop_words = frozenset(config.stop_words)
        self._bullets = tuple(config.bullet_prefixes)
        c = config
        self.cuts = (
            Cut("too_few_words", "n_words", "<", c.min_words),
            Cut("too_many_words", "n_words", ">", c.max_words),
            Cut("short_mean_word_length", "mean_word_length", "<", c.min_mean_word_length),
            Cut("long_mean_word_length", "mean_word_length", ">", c.max_mean_word_length),
            Cut("hash_ratio", "hash_ratio", ">", c.max_symbol_word_ratio),
            Cut("ellipsis_ratio", "ellipsis_ratio", ">", c.max_symbol_word_ratio),
            Cut("bullet_lines", "bullet_lines_ratio", ">", c.max_bullet_lines_ratio),
            Cut("ellipsis_lines", "ellipsis_lines_ratio", ">", c.max_ellipsis_lines_ratio),
            Cut("alpha_words", "alpha_words_ratio", "<", c.min_alpha_words_ratio),
            Cut("stop_words", "stop_words", "<", c.min_stop_words),
        )

    def tag(self, doc: DocView) -> Tags:
        view = doc.words(self.config.words)
        words = view.tokens
        n_tokens = len(words)
        symbols = view.symbols
        n_words = n_tokens - len(symbols)
        word_chars = view.offsets[-1] - sum(map(len, symbols))
        lines = doc.lines
        text = doc.text
        return Tags(
            {
                "n_words": n_words,
                "mean_word_length": ratio(word_chars, n_words),
                "hash_ratio": ratio(text.count("#"), n_tokens),
                "ellipsis_ratio": ratio(text.count("...") + text.count("…"), n_tokens),
                "bullet_lines_ratio": ratio(
                    sum(1 for line in lines if line.lstrip().startswith(self._bullets)), len(lines)
                ),
                "ellipsis_lines_ratio": ratio(
                    sum(1 for line in lines if line.rstrip().endswith(("...", "…"))), len(lines)
                ),
                "alpha_words_ratio": ratio(view.n_alphabetic, n_tokens),
                "stop_words": len(self._stop_words.intersection(words)),
            }
        )

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return failed_cuts(self.cuts, attributes)
