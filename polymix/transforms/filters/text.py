"""Word, line and paragraph views of one document, computed once and shared by every rule set.

The Gopher, FineWeb and repetition rules count "words" as DataTrove does: spaCy's English tokens
(punctuation marks are words, "don't" is two). `words.split_words` produces exactly those tokens
without spaCy ("fast"); `spacy_words.split_words` asks spaCy itself ("spacy"). `DocView` caches
each view, per splitter, so stages that share a text tokenize it once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from itertools import accumulate, filterfalse

from polymix.transforms.filters import words as fast_words

# DataTrove's PUNCTUATION (ASCII and CJK marks plus control characters) and its terminal
# punctuation: a token made only of these is a "symbol", not a word, for the Gopher word counts.
PUNCTUATION = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
)
# Unicode's Sentence_Terminal characters, as DataTrove lists them (FineWeb's line-end rule).
TERMINAL_PUNCTUATION = frozenset(
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e"
    "\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9"
    "\u17da\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d"
    "\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54"
    "\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d"
    "\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56"
    "\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87"
    "\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1"
    "\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df"
    "\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2"
    "\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf"
    "\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7"
    "\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42"
    "\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43"
    "\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98"
    "\U0001bc9f\U0001da88"
)
_PUNCTUATION_CHARS = "".join(sorted(PUNCTUATION | TERMINAL_PUNCTUATION))
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")


def _spacy_split(text: str) -> list[str]:
    from polymix.transforms.filters import spacy_words

    return spacy_words.split_words(text)


SPLITTERS: dict[str, Callable[[str], list[str]]] = {
    "fast": fast_words.split_words,
    "spacy": _spacy_split,
}


def split_words(text: str) -> list[str]:
    """spaCy-English tokens: what the Gopher paper and DataTrove call words."""
    return fast_words.split_words(text)


def is_symbol(token: str) -> bool:
    """True for a token made only of punctuation (not counted as a word by Gopher)."""
    return not token.strip(_PUNCTUATION_CHARS)


class Words:
    """One splitter's tokens of a text and the counts the Gopher rules take from them."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    @cached_property
    def _not_alphabetic(self) -> list[str]:
        # Most tokens are all letters: one C-level pass sets them aside before any per-token work.
        return list(filterfalse(str.isalpha, self.tokens))

    @cached_property
    def symbols(self) -> list[str]:
        """Tokens made only of punctuation, in order."""
        return [token for token in self._not_alphabetic if is_symbol(token)]

    @cached_property
    def n_alphabetic(self) -> int:
        """Tokens holding at least one alphabetic character (`str.isalpha`, as DataTrove)."""
        partly = sum(1 for token in self._not_alphabetic if any(map(str.isalpha, token)))
        return len(self.tokens) - len(self._not_alphabetic) + partly

    @cached_property
    def offsets(self) -> list[int]:
        """Prefix sums of token lengths: the characters of tokens[i:j] are offsets[j] - offsets[i]."""
        return list(accumulate(map(len, self.tokens), initial=0))


class DocView:
    """Lazily computed views of one text; build a new one whenever a stage rewrites the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._words: dict[str, Words] = {}

    def words(self, splitter: str = "fast") -> Words:
        cached = self._words.get(splitter)
        if cached is None:
            cached = self._words[splitter] = Words(SPLITTERS[splitter](self.text))
        return cached

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def nonempty_lines(self) -> list[str]:
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def paragraphs(self) -> list[str]:
        return _PARAGRAPH_BREAK.split(self.text.strip())

    @cached_property
    def line_runs(self) -> list[str]:
        """Lines split on runs of newlines (blank lines vanish), as the repetition rules count them."""
        return _LINE_BREAKS.split(self.text)
