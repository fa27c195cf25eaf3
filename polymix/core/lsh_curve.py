"""The LSH S-curve: how likely a pair of a given Jaccard is to become a candidate.

Two documents of Jaccard J agree on one MinHash row with probability J, on all `rows`
rows of a band with J**rows, and share at least one of `bands` bands with

    P(candidate | J) = 1 - (1 - J**rows) ** bands

Near dedup compares only candidates, so P at the threshold is the recall it can promise
there, and the area under P below the threshold is what it pays in false candidates
(verification removes those, at the price of one comparison each). The config chooses
its bands from these two numbers, which is why they live on the ground floor.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Points of the quadrature over [0, 1]; Simpson's rule on this many is exact to ~1e-9
# for the curves b x r <= 1024 can draw, far below any recall anyone asks for.
_POINTS = 4001


def candidate_probability(similarity, bands: int, rows: int):
    """P(a pair of this Jaccard shares at least one band); a float or an array of them."""
    return 1.0 - (1.0 - np.power(similarity, rows)) ** bands


def _simpson(low: float, high: float, bands: int, rows: int) -> float:
    if high <= low:
        return 0.0
    x = np.linspace(low, high, _POINTS)
    y = candidate_probability(x, bands, rows)
    step = (high - low) / (_POINTS - 1)
    return float(step / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum()))


def recall_above(threshold: float, bands: int, rows: int) -> float:
    """Mean of P over J in [threshold, 1]: the recall of pairs spread evenly above it."""
    return _simpson(threshold, 1.0, bands, rows) / (1.0 - threshold)


def false_candidate_area(threshold: float, bands: int, rows: int) -> float:
    """Area under P over J in [0, threshold]: the false candidates a curve lets in."""
    return _simpson(0.0, threshold, bands, rows)


@lru_cache(maxsize=64)
def cheapest_bands(threshold: float, num_perm: int, min_recall: float) -> tuple[int, int] | None:
    """(bands, rows), bands x rows <= num_perm, with P(threshold) >= min_recall and the
    least false-candidate area; ties go to fewer bands (fewer keys per document).

    None when no split of `num_perm` reaches `min_recall`. P rises with J, so the recall
    over [threshold, 1] is at least the recall at the threshold.
    """
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        # For fixed rows P grows with bands, so the fewest bands that reach the recall
        # also let in the least area: one candidate per row count.
        bands = _fewest_bands(threshold, rows, num_perm // rows, min_recall)
        if bands is None:
            continue
        cost = (false_candidate_area(threshold, bands, rows), bands, rows)
        if best is None or cost < best:
            best = cost
    return None if best is None else (best[1], best[2])


def _fewest_bands(threshold: float, rows: int, most: int, min_recall: float) -> int | None:
    band_hit = threshold**rows
    if band_hit <= 0.0 or most < 1:
        return None
    if band_hit >= 1.0:
        return 1
    # 1 - (1 - p)^b >= R  <=>  b >= log(1 - R) / log(1 - p)
    needed = np.log1p(-min_recall) / np.log1p(-band_hit)
    if needed > most + 1:
        return None
    bands = max(1, int(np.ceil(needed)))
    while bands > 1 and candidate_probability(threshold, bands - 1, rows) >= min_recall:
        bands -= 1
    while bands <= most and candidate_probability(threshold, bands, rows) < min_recall:
        bands += 1
    return bands if bands <= most else None
