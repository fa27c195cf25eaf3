"""Gopher's n-gram repetition measures for every n in one compiled call.

Python tuples of words, one Counter per n for n = 2..10, made Gopher repetition the slowest rule
set. Here each word becomes an integer (its first-occurrence index), and the n-grams of every
length are named by dense integers built from the (n-1)-grams: gram_n(i) = (gram_{n-1}(i),
word(i+n-1)), numbered in order of first appearance through an open-addressing table. Names are
exact (no hashing of text), so the figures equal the tuple-based definitions:

- top n-gram: characters of the most frequent n-gram, its words and the spaces between them,
  times its count; among equally frequent ones the first to appear (as `Counter.most_common`).
- duplicate n-grams: walk left to right; an n-gram seen before adds its words' characters and
  the walk jumps past it, as in the paper and DataTrove (which compares n-grams joined without
  spaces, so it also takes "a bc" for "ab c"; we compare words).

Once no n-gram of some length repeats, no longer one can; the walk stops there. Memory is a few
integers per word for one n at a time, so a huge document costs what its word list already does.
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True)
def _name_grams(previous, ids, n, vocabulary, table_keys, table_names):
    """Dense names for the n-grams at each start, from the (n-1)-gram names and the next word."""
    positions = previous.shape[0] - 1
    names = np.empty(positions, np.int64)
    mask = np.uint64(table_keys.shape[0] - 1)
    table_keys[:] = -1
    distinct = 0
    for i in range(positions):
        key = previous[i] * vocabulary + ids[i + n - 1]
        slot = (np.uint64(key) * _GOLDEN) >> np.uint64(32) & mask
        while True:
            found = table_keys[slot]
            if found == key:
                names[i] = table_names[slot]
                break
            if found == -1:
                table_keys[slot] = key
                table_names[slot] = distinct
                names[i] = distinct
                distinct += 1
                break
            slot = (slot + np.uint64(1)) & mask
    return names, distinct


@numba.njit(cache=True)
def _top_chars(names, distinct, offsets, n):
    counts = np.zeros(distinct, np.int64)
    first = np.full(distinct, -1, np.int64)
    for i in range(names.shape[0]):
        name = names[i]
        counts[name] += 1
        if first[name] < 0:
            first[name] = i
    best = 0  # names are numbered by first appearance: the lowest among ties came first
    for name in range(distinct):
        if counts[name] > counts[best]:
            best = name
    start = first[best]
    return (offsets[start + n] - offsets[start] + n - 1) * counts[best]


@numba.njit(cache=True)
def _duplicate_chars(names, distinct, offsets, n):
    seen = np.zeros(distinct, np.bool_)
    chars = 0
    i = 0
    while i < names.shape[0]:
        name = names[i]
        if seen[name]:
            chars += offsets[i + n] - offsets[i]
            i += n
        else:
            seen[name] = True
            i += 1
    return chars


@numba.njit(cache=True)
def _all_lengths(ids, offsets, vocabulary, longest):
    """(top chars, duplicate chars) for n = 0..longest; entries for n with no n-gram stay 0."""
    top = np.zeros(longest + 1, np.int64)
    duplicate = np.zeros(longest + 1, np.int64)
    size = 1
    while size < 2 * ids.shape[0] + 2:
        size *= 2
    table_keys = np.empty(size, np.int64)
    table_names = np.empty(size, np.int64)
    names = ids
    distinct = vocabulary
    repeats = True
    for n in range(1, longest + 1):
        if ids.shape[0] < n:
            break
        if not repeats:  # every n-gram is unique: the first one is the most frequent
            top[n] = offsets[n] - offsets[0] + n - 1
            continue
        if n > 1:
            names, distinct = _name_grams(names, ids, n, vocabulary, table_keys, table_names)
        top[n] = _top_chars(names, distinct, offsets, n)
        if distinct == names.shape[0]:
            repeats = False
            continue
        duplicate[n] = _duplicate_chars(names, distinct, offsets, n)
    return top, duplicate


def ngram_chars(words: list[str], offsets: list[int], longest: int) -> tuple[list[int], list[int]]:
    """Top and duplicate n-gram characters for n = 0..longest (index 0 is unused)."""
    if not words or longest < 1:
        return [0] * (longest + 1), [0] * (longest + 1)
    index = {word: i for i, word in enumerate(dict.fromkeys(words))}  # first-appearance order
    ids = np.fromiter(map(index.__getitem__, words), np.int64, count=len(words))
    top, duplicate = _all_lengths(
        ids, np.asarray(offsets, dtype=np.int64), np.int64(len(index)), longest
    )
    return top.tolist(), duplicate.tolist()
