"""Clusters whose every removed member is close to the document it was removed for.

Connected components join documents transitively: in a chain where only neighbours are
similar, the first and last pages share one cluster however different they are. The
floor cuts such clusters in two steps, both per node (the pipeline,
`polymix/pipelines/cluster_floor.py`, does the grouping):

1. The cluster keeps its smallest id, and every member is compared with that kept
   document itself (not with a neighbour): at or above the floor it is removed, naming
   the kept one with that similarity; below, it joins the residue.
2. The residue is cut by pivot rounds on the verified edges among residue nodes at or
   above the floor, the parallel form of KwikCluster (Ailon, Charikar, Newman, JACM
   2008; its parallel rounds as in Chierichetti, Dalvi, Kumar, KDD 2014): a node whose
   rank (`star_cc.rank`, a hash, so sorted ids are no worst case) is below all its
   active neighbours' is a pivot and kept; an active neighbour of a pivot is removed for
   the smallest-ranked pivot next to it, with that edge's similarity (at or above the
   floor by construction); both leave. Random ranks resolve a constant share of the
   residue per round (a chain of 10^6 in 4 rounds).

What is left after the last round, and any residue node with no active neighbour, is
kept as its own cluster: a document is never removed below the floor, the bound only
decides how many near duplicates a pathological residue keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from polymix.transforms.star_cc import min_present, rank

Similarity = Callable[[Any, Any], float]


# --------------------------------------------------------------------------- the kept one


def smaller(a: Any, b: Any) -> Any:
    """The kept member of a cluster: its smallest node (node keys order by id first)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def judge(member_sketch: Any, kept_sketch: Any, similarity: Similarity, floor: float) -> tuple:
    """("duplicate", similarity) when the member may go for the kept one, else ("residue", s)."""
    score = similarity(member_sketch, kept_sketch)
    return ("duplicate" if score >= floor else "residue"), score


# --------------------------------------------------------------------------- pivot rounds


class Neighbourhood(NamedTuple):
    """What an active node knows at the start of a pivot round."""

    lowest: Any  # smallest rank among its active neighbours (None: none)
    active: bool  # it is in the residue and not yet resolved


def neighbourhood_add(summary: Neighbourhood | None, contribution: tuple) -> Neighbourhood:
    """Contributions: (neighbour rank, False) from a neighbour, (None, True) from itself."""
    neighbour_rank, active = contribution
    part = Neighbourhood(neighbour_rank, active)
    return part if summary is None else neighbourhood_merge(summary, part)


def neighbourhood_merge(a: Neighbourhood | None, b: Neighbourhood | None) -> Neighbourhood | None:
    if a is None or b is None:
        return a if b is None else b
    return Neighbourhood(min_present(a.lowest, b.lowest), a.active or b.active)


def is_pivot(node: str, summary: Neighbourhood) -> bool:
    """An active node ranked below every active neighbour."""
    return summary.active and (summary.lowest is None or rank(node) < summary.lowest)


class Offers(NamedTuple):
    """What a node learns from its neighbours' pivot decisions (and its own)."""

    best: Any  # (rank, pivot, similarity) of the lowest-ranked pivot neighbour, or None
    pivot: bool  # the node is a pivot itself
    active: bool  # its own note arrived: it was active this round
    keys: Any  # opaque, from its own note (the pipeline's salts of its neighbours)


def offers_add(summary: Offers | None, contribution: tuple) -> Offers:
    """Contributions: (offer, False, None) from a pivot neighbour, where an offer is
    (rank, pivot, similarity); (None, own pivot flag, keys) from the node itself."""
    offer, pivot, keys = contribution
    part = Offers(offer, pivot, offer is None, keys)
    return part if summary is None else offers_merge(summary, part)


def offers_merge(a: Offers | None, b: Offers | None) -> Offers | None:
    if a is None or b is None:
        return a if b is None else b
    keys = a.keys if a.keys is not None else b.keys
    return Offers(min_present(a.best, b.best), a.pivot or b.pivot, a.active or b.active, keys)


def outcome(summary: Offers) -> tuple:
    """("pivot",), ("joined", pivot, similarity) or ("active",) for an active node;
    ("gone",) for one that only heard offers after it had left."""
    if not summary.active:
        return ("gone",)
    if summary.pivot:
        return ("pivot",)
    if summary.best is not None:
        _, pivot, score = summary.best
        return ("joined", pivot, score)
    return ("active",)
