"""Word, line and paragraph views of one document, computed once and shared by every rule set.

The Gopher, FineWeb and repetition rules all count "words". DataTrove counts spaCy's English
tokens (punctuation marks are words, "don't" is two); we reproduce that segmentation with one
compiled regex so our ratios land on the same side of the published thresholds while costing a
fraction of a spaCy pass. `DocView` caches each view so stages that share a text tokenize it once.
"""

from __future__ import annotations

import re
from functools import cached_property
from itertools import accumulate

# URLs and e-mail addresses are one token (spaCy's url_match / like_email); dotted abbreviations
# ("U.S.", "e.g.") and numbers with separators ("3.14", "1,000", "12:30") are one token; every other
# punctuation mark is its own token except runs of dots or dashes. As in spaCy, a bracket between
# word characters ("len(values") does not split; possessive `++` keeps the regex from backtracking.
_CORE = (
    r"(?:https?://|www\.)\S*[^\s.,;:!?)\]'\"]"
    r"|(?:[^\W\d_]\.){2,}"
    r"|\d+(?:[.,:]\d+)+"
    r"|\w++(?:['’]\w++|[(\[]\w++)*"
    r"|\.{2,}|-{2,}"
    r"|[^\w\s]"
)
_TOKEN = re.compile(_CORE)
# Only texts with an "@" pay for the e-mail alternative (it backtracks on every word).
_TOKEN_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|" + _CORE)
_CLITICS = ("'s", "'m", "'d", "'ll", "'ve", "'re", "’s", "’m", "’d", "’ll", "’ve", "’re")

# DataTrove's PUNCTUATION (ASCII and CJK marks plus control characters) and the common sentence
# terminals: a token made only of these is a "symbol", not a word, for the Gopher word counts.
PUNCTUATION = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
)
# Sentence terminals of the main scripts (Unicode Sentence_Terminal, the ones that occur in web text).
TERMINAL_PUNCTUATION = frozenset(
    ".!?。！？．｡‼‽⁇⁈⁉։؞؟۔܀܁܂߹।॥၊။።፧፨᙮᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗៕៖។"
)
_SYMBOLS = PUNCTUATION | TERMINAL_PUNCTUATION
_SYMBOL_TOKENS = frozenset(
    _SYMBOLS | {"." * n for n in range(2, 33)} | {"-" * n for n in range(2, 33)}
)
_PUNCTUATION_CHARS = "".join(sorted(_SYMBOLS))
_HAS_LETTER = re.compile(r"[^\W\d_]").search
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")


def split_words(text: str) -> list[str]:
    """spaCy-English-like tokens: what the Gopher paper and DataTrove call words."""
    tokens = (_TOKEN_EMAIL if "@" in text else _TOKEN).findall(text)
    if "'" not in text and "’" not in text:
        return tokens
    out: list[str] = []
    for token in tokens:
        if ("'" in token or "’" in token) and len(token) > 1:
            out.extend(_split_clitic(token))
        else:
            out.append(token)
    return out


def _split_clitic(token: str) -> list[str]:
    lower = token.lower()
    if lower.endswith(("n't", "n’t")) and len(token) > 3:
        return [token[:-3], token[-3:]]
    for clitic in _CLITICS:
        if lower.endswith(clitic) and len(token) > len(clitic):
            return [token[: -len(clitic)], token[-len(clitic) :]]
    return [token]


def is_symbol(token: str) -> bool:
    """True for a token made only of punctuation (not counted as a word by Gopher)."""
    return token in _SYMBOL_TOKENS or not token.strip(_PUNCTUATION_CHARS)


class DocView:
    """Lazily computed views of one text; build a new one whenever a stage rewrites the text."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def words(self) -> list[str]:
        return split_words(self.text)

    @cached_property
    def symbol_words(self) -> list[str]:
        return list(filter(_SYMBOL_TOKENS.__contains__, self.words))

    @cached_property
    def n_letter_words(self) -> int:
        return len(list(filter(_HAS_LETTER, self.words)))

    @cached_property
    def word_offsets(self) -> list[int]:
        """Prefix sums of word lengths: the characters of words[i:j] are offsets[j] - offsets[i]."""
        return list(accumulate(map(len, self.words), initial=0))

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
