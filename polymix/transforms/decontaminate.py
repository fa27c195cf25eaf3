"""Word n-grams for decontamination: the same words and hashes for eval sets and documents.

Words are taken after NFKC, case folding and dropping everything but letters, digits and
underscores (DataTrove's `simplify_text` defaults: lowercase, no punctuation, whitespace
folded), so "The Eiffel Tower, in Paris" and "the eiffel tower in paris" share n-grams.
An n-gram's key is a 64-bit hash: per word xxh64, combined over the window as a polynomial
in an odd constant (a handful of numpy operations per document instead of one string per
position). A key match is only a candidate: the pipeline checks the n-gram's words against
the document before it rejects anything, so a hash collision never removes a document.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import xxhash

_WORD = re.compile(r"\w+")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: every window position weighs differently
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _word_hashes(tokens: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (xxhash.xxh64_intdigest(t.encode("utf-8")) for t in tokens), np.uint64, len(tokens)
    )


def ngram_keys(tokens: Sequence[str], n: int) -> np.ndarray:
    """The key of every n-word window, in order (empty when there are fewer than n words)."""
    if len(tokens) < n:
        return np.zeros(0, np.uint64)
    hashes = _word_hashes(tokens)
    windows = len(tokens) - n + 1
    with np.errstate(over="ignore"):
        keys = np.zeros(windows, np.uint64)
        for offset in range(n):
            keys = keys * _MULTIPLIER + hashes[offset : offset + windows]
        keys ^= keys >> np.uint64(31)
        keys *= _MIX
        keys ^= keys >> np.uint64(29)
    return keys


def document_keys(text: str, n: int) -> list[int]:
    """Distinct n-gram keys of a document, sorted (what it sends to the join, once each)."""
    return [int(k) for k in np.unique(ngram_keys(words(text), n))]


def eval_ngrams(text: str, n: int) -> dict[int, str]:
    """key -> the n-gram's words joined by spaces, for one eval text."""
    tokens = words(text)
    keys = ngram_keys(tokens, n)
    return {int(key): " ".join(tokens[i : i + n]) for i, key in enumerate(keys.tolist())}


def contains_ngram(tokens: Sequence[str], ngram: str) -> bool:
    """Whether the words of `ngram` occur, in order and adjacent, in `tokens`."""
    wanted = ngram.split(" ")
    n = len(wanted)
    first = wanted[0]
    return any(
        tokens[i] == first and list(tokens[i : i + n]) == wanted for i in range(len(tokens) - n + 1)
    )
