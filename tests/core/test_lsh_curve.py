"""The S-curve against brute force, and the default bands against their promise."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.lsh_curve import (
    candidate_probability,
    cheapest_bands,
    false_candidate_area,
    recall_above,
)


def _enumerated(similarity: float, bands: int, rows: int) -> float:
    """Sum over every agree/disagree outcome of the bands x rows values (each row
    agrees with probability J, independently) of those where some band agrees fully."""
    total = 0.0
    for outcome in product((True, False), repeat=bands * rows):
        weight = np.prod([similarity if agree else 1 - similarity for agree in outcome])
        grid = np.array(outcome).reshape(bands, rows)
        if grid.all(axis=1).any():
            total += weight
    return total


@pytest.mark.parametrize(("bands", "rows"), [(1, 1), (2, 3), (3, 2), (4, 3), (1, 5)])
@pytest.mark.parametrize("similarity", [0.0, 0.3, 0.8, 0.85, 1.0])
def test_candidate_probability_matches_enumeration(similarity, bands, rows):
    assert candidate_probability(similarity, bands, rows) == pytest.approx(
        _enumerated(similarity, bands, rows), abs=1e-12
    )


def test_candidate_probability_takes_arrays():
    points = np.array([0.5, 0.8, 0.9])
    values = candidate_probability(points, 21, 9)
    assert values.tolist() == [candidate_probability(float(p), 21, 9) for p in points]


@pytest.mark.parametrize(("bands", "rows"), [(9, 13), (21, 9), (13, 7), (1, 1)])
def test_integrals_match_a_fine_riemann_sum(bands, rows):
    midpoints = (np.arange(200_000) + 0.5) / 200_000
    p = candidate_probability(midpoints, bands, rows)
    below = p[midpoints < 0.8].sum() / 200_000
    above = p[midpoints >= 0.8].mean()
    assert false_candidate_area(0.8, bands, rows) == pytest.approx(below, abs=1e-6)
    assert recall_above(0.8, bands, rows) == pytest.approx(above, abs=1e-6)


def _exhaustive(threshold: float, num_perm: int, min_recall: float):
    feasible = [
        (false_candidate_area(threshold, b, r), b, r)
        for r in range(1, num_perm + 1)
        for b in range(1, num_perm // r + 1)
        if candidate_probability(threshold, b, r) >= min_recall
    ]
    return min(feasible)[1:] if feasible else None


@pytest.mark.parametrize(
    ("threshold", "num_perm", "min_recall"),
    [(0.8, 128, 0.95), (0.8, 192, 0.95), (0.7, 64, 0.9), (0.9, 100, 0.99), (0.8, 8, 0.99)],
)
def test_cheapest_bands_equal_exhaustive_search(threshold, num_perm, min_recall):
    assert cheapest_bands(threshold, num_perm, min_recall) == _exhaustive(
        threshold, num_perm, min_recall
    )


def test_defaults_keep_their_promise_and_the_old_ones_did_not():
    config = NearDedupConfig()
    bands, rows = config.lsh_params()
    assert bands * rows <= config.num_perm
    assert config.recall_at_threshold() >= 0.95
    assert recall_above(config.threshold, bands, rows) >= 0.95
    assert candidate_probability(0.8, 9, 13) < 0.5  # 128 permutations, 9 x 13
    assert recall_above(0.8, 9, 13) < 0.9


def test_unreachable_recall_is_one_clear_error():
    with pytest.raises(ValueError, match="num_perm 2 cannot reach min_recall 0.99"):
        NearDedupConfig(num_perm=2, min_recall=0.99)
    assert NearDedupConfig(num_perm=2, min_recall=0.99, bands=1, rows=2).lsh_params() == (1, 2)
