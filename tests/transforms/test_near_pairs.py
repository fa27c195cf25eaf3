"""Measured recall at the threshold: pairs of known Jaccard through MinHash, bands and
verification (the same functions the Beam stage runs), against the S-curve's promise."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.lsh_curve import candidate_probability
from polymix.transforms.minhash import MinHasher, exact_jaccard, shingle_set
from polymix.transforms.near_pairs import candidate_pairs, near_duplicate_pairs

_WORDS = 204  # 200 five-word shingles, all distinct: every word is used once
_OLD_DEFAULTS = NearDedupConfig(num_perm=128, bands=9, rows=13)


class _FreshWords:
    """Words never used before (letters only, so normalization keeps them whole)."""

    def __init__(self) -> None:
        self.count = 0

    def take(self, n: int) -> list[str]:
        out = []
        for _ in range(n):
            value, word = self.count, ""
            while True:
                value, digit = divmod(value, 26)
                word += string.ascii_lowercase[digit]
                if value == 0:
                    break
            out.append("q" + word)
            self.count += 1
        return out


def pair_with_tail_replaced(fresh: _FreshWords, replaced: int) -> tuple[str, str]:
    """Two texts sharing all but their last `replaced` words: (200 - k) / (200 + k)."""
    words = fresh.take(_WORDS)
    copy = words[: _WORDS - replaced] + fresh.take(replaced)
    return " ".join(words), " ".join(copy)


def known_pairs(count: int, tails: range, seed: int = 0) -> tuple[list[str], list[float]]:
    """`count` disjoint pairs (texts 2i, 2i + 1) with tails drawn from `tails`."""
    rng, fresh = random.Random(seed), _FreshWords()
    texts, jaccards = [], []
    for _ in range(count):
        k = rng.choice(tails)
        texts.extend(pair_with_tail_replaced(fresh, k))
        jaccards.append((200 - k) / (200 + k))
    return texts, jaccards


def _shingle_jaccards(texts: list[str]) -> list[float]:
    hashes, offsets = MinHasher().shingle_hashes(texts)
    sets = [shingle_set(hashes[offsets[i] : offsets[i + 1]]) for i in range(len(texts))]
    return [exact_jaccard(sets[2 * i], sets[2 * i + 1]) for i in range(len(texts) // 2)]


@pytest.fixture(scope="module")
def at_threshold() -> tuple[list[str], list[float]]:
    # k = 17..22 gives J = 0.843 .. 0.802: the hardest duplicates the threshold promises.
    return known_pairs(3000, range(17, 23))


def _recall(texts: list[str], config: NearDedupConfig) -> float:
    found = near_duplicate_pairs(texts, config)
    return sum((2 * i, 2 * i + 1) in found for i in range(len(texts) // 2)) / (len(texts) // 2)


def test_constructed_pairs_have_the_jaccard_they_claim(at_threshold):
    texts, jaccards = at_threshold
    measured = _shingle_jaccards(texts[:600])  # one rule made them all
    assert measured == pytest.approx(jaccards[:300], abs=1e-12)
    assert min(measured) >= 0.80 and max(measured) <= 0.85


def test_defaults_find_95_percent_of_pairs_at_the_threshold(at_threshold):
    texts, jaccards = at_threshold
    config = NearDedupConfig()
    found = near_duplicate_pairs(texts, config)
    recall = sum((2 * i, 2 * i + 1) in found for i in range(len(texts) // 2)) / (len(texts) // 2)
    assert recall >= 0.95, recall
    # And it is the S-curve's recall: the pairs are disjoint, so each is found exactly
    # when it becomes a candidate, with probability P(J).
    p = candidate_probability(np.array(jaccards), *config.lsh_params())
    spread = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(recall - p.mean()) <= 4 * spread, (recall, p.mean(), spread)
    assert all(b == a + 1 and a % 2 == 0 for a, b in found)  # no pair across pairs


def test_old_defaults_miss_many_of_them(at_threshold):
    assert _recall(at_threshold[0], _OLD_DEFAULTS) < 0.7


def test_verification_drops_candidates_below_the_threshold():
    # k = 26..40: J = 0.770 .. 0.667, many become candidates, none may come out.
    texts, _ = known_pairs(300, range(26, 41), seed=1)
    config = NearDedupConfig()
    hasher = MinHasher(num_perm=config.num_perm)
    candidates = candidate_pairs(hasher.signatures(texts), *config.lsh_params())
    assert len(candidates) > 50
    assert near_duplicate_pairs(texts, config) == {}
    estimated = near_duplicate_pairs(texts, config.model_copy(update={"verify": False}))
    assert len(estimated) < len(candidates)  # signatures estimate, and most fall below
