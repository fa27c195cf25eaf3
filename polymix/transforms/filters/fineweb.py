"""FineWeb's extra quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.3).

They catch what Gopher and C4 let through on Common Crawl: list-like pages (few lines ending in
punctuation, many short lines, a high newline-to-word ratio) and pages whose lines repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polymix.transforms.filters.base import Cut, Tags, failed_cuts, ratio
from polymix.transforms.filters.gopher_repetition import duplicates
from polymix.transforms.filters.text import TERMINAL_PUNCTUATION, DocView


class FineWeb:
    name = "fineweb"

    def __init__(self, config: Any) -> None:
        self.config = config
        c = config
        self.cuts = (
            Cut(
                "terminal_punct_lines",
                "terminal_punct_line_ratio",
                "<",
                c.min_terminal_punct_line_ratio,
            ),
            Cut("short_lines", "short_line_ratio", ">", c.max_short_line_ratio),
            Cut("dup_line_chars", "dup_line_char_ratio", ">", c.max_dup_line_char_ratio),
            Cut("newline_word_ratio", "newline_word_ratio", ">", c.max_newline_word_ratio),
        )

    def tag(self, doc: DocView) -> Tags:
        lines = doc.nonempty_lines
        text = doc.text
        short = self.config.short_line_length
        return Tags(
            {
                "lines": len(lines),
                "terminal_punct_line_ratio": ratio(
                    sum(1 for line in lines if line[-1] in TERMINAL_PUNCTUATION), len(lines)
                ),
                "short_line_ratio": ratio(
                    sum(1 for line in lines if len(line) <= short), len(lines)
                ),
                "dup_line_char_ratio": ratio(duplicates(lines)[1], len(text) - text.count("\n")),
                "newline_word_ratio": ratio(
                    text.count("\n"), len(doc.words(self.config.words).tokens)
                ),
            }
        )

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        if not attributes["lines"]:
            return ["empty"]
        return failed_cuts(self.cuts, attributes)
