"""Sentence counts as C4 takes them in DataTrove: spaCy's rule-based sentencizer.

DataTrove counts a kept line's sentences with `spacy.blank("en")` plus its "sentencizer" pipe. The
rule is simple enough to replay on our tokens: a sentence starts at the first token that is not
punctuation after a token that is one of the sentencizer's end marks. Whitespace tokens count as
"not punctuation" (so "a.  ." is two sentences and "a. ." one), and a sentence of whitespace
alone is dropped, as DataTrove strips them.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from polymix.transforms.filters import english_rules
from polymix.transforms.filters.words import spaced_words

END_MARKS = frozenset(english_rules.SENTENCE_PUNCT)


@lru_cache(maxsize=1 << 14)
def is_punctuation(token: str) -> bool:
    """spaCy's `is_punct`: every character is in a Unicode punctuation category."""
    return all(unicodedata.category(char).startswith("P") for char in token)


def count_in_tokens(tokens: list[str]) -> int:
    """Sentences in a token sequence where " " stands for a whitespace token."""
    count = 0
    has_text = after_end_mark = False
    for token in tokens:
        end_mark = token in END_MARKS
        if after_end_mark and not end_mark and not is_punctuation(token):
            count += has_text
            has_text = after_end_mark = False
        elif end_mark:
            after_end_mark = True
        has_text = has_text or token != " "
    return count + has_text


def count_sentences(line: str) -> int:
    """How many sentences DataTrove's spaCy sentencizer finds in `line`."""
    return count_in_tokens(spaced_words(line))
