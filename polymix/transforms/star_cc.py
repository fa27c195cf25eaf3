"""The per-node rules of large-star / small-star connected components, and a reference.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): alternate
two local rewrites of the edge set until it is a forest of stars, each pointing at its
component's smallest node. Each rewrite looks at one node and its neighbours only, so a
runner can apply it per key with no step holding the graph. Three things are added here:

- Order. "Smallest" is by `rank`: a 63-bit hash of the node, then the node. Ids that
  come sorted along a chain (page-1, page-2, ...) are the algorithm's worst case when
  ordered by id (a sorted chain of 1.1M needs 21 rounds); hashed, every input behaves
  like a random one (16 rounds at 1.1M, ~20 at 10^7: `benchmarks/scale.py`).
- Each rule is split into a summary of the node's neighbourhood (an associative fold, so
  the pipeline computes it with a lifted combine) and an answer per neighbour given
  that summary (so the pipeline can answer a hub's neighbours on many keys at once).
- Finished stars leave. A small-star edge (v, p) is flagged when it is v's only edge
  (no large-star hung anything on v); a large-star node whose neighbours are all larger
  and all came over flagged edges is the root of a whole component that is already a
  star. Its edges are output as final and shuffled no more, one round after the star
  formed, so later rounds see only the components still changing, and a round with
  nothing left costs nothing.

The pipeline (`polymix/pipelines/connected_components.py`) does the grouping; this file
is testable without Beam (`star_round` applies one round in memory with the same rules,
`components_reference` is union-find).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

import xxhash

Node = TypeVar("Node", bound=Hashable)
Ranked = tuple[int, str]


def rank(node: str) -> Ranked:
    """The order connected components use: pseudo-random, the same on every machine."""
    return xxhash.xxh64_intdigest(node.encode("utf-8")) >> 1, node


# --------------------------------------------------------------------------- edges

# An edge is (child, parent, flag): after the first round parent < child, and `flag` says
# it is the child's only edge (see `small_star_step`).


def half_edges(edge: tuple) -> Iterator[tuple[Any, tuple]]:
    """Large-star sees every edge from both ends: (node, (neighbour, flag, larger))."""
    a, b, flag = edge
    yield a, (b, False, b > a)
    yield b, (a, flag, a > b)


class LargeStar(NamedTuple):
    """A node's neighbourhood, folded: enough to decide its large-star step."""

    smallest: Any  # smallest neighbour
    several: bool  # more than one distinct neighbour
    flagged: bool  # every larger neighbour came over a flagged edge
    has_larger: bool


def large_star_add(summary: LargeStar | None, contribution: tuple) -> LargeStar:
    neighbour, flag, larger = contribution
    part = LargeStar(neighbour, False, flag or not larger, larger)
    return part if summary is None else large_star_merge(summary, part)


def large_star_merge(a: LargeStar | None, b: LargeStar | None) -> LargeStar | None:
    if a is None or b is None:
        return a if b is None else b
    return LargeStar(
        min(a.smallest, b.smallest),
        a.several or b.several or a.smallest != b.smallest,
        a.flagged and b.flagged,
        a.has_larger or b.has_larger,
    )


class LargeStarStep(NamedTuple):
    parent: Any  # smallest of the closed neighbourhood: where larger neighbours go
    root: bool  # no smaller neighbour
    final: bool  # root of a finished star: its edges leave the rounds


def large_star_step(node: Any, summary: LargeStar) -> LargeStarStep:
    root = summary.smallest > node
    return LargeStarStep(min(node, summary.smallest), root, root and summary.flagged)


def large_star_answer(node: Any, step: LargeStarStep, neighbour: Any) -> tuple[str, tuple]:
    """What a larger neighbour gets: a final (neighbour, root) label, or the large-star
    edge (neighbour, parent) for small-star.

    Finality: every larger neighbour v came over a flagged edge, so after the last
    small-star v's only edge was to `node` (see `small_star_step`), and `node` has no
    smaller neighbour. The component is this star and its root is its smallest node.
    """
    if step.final:
        return "final", (neighbour, node)
    return "edge", (neighbour, step.parent)


def parent_note(node: Any, summary: LargeStar, step: LargeStarStep) -> tuple | None:
    """(parent, note): a node that hangs larger neighbours on `parent` tells it so."""
    if summary.has_larger and not step.final:
        return step.parent, PARENT_NOTE
    return None


class SmallStar(NamedTuple):
    """A node's smaller neighbours after large-star, folded."""

    smallest: Any  # None when only notes arrived
    is_parent: bool  # some node hung its larger neighbours on this one


PARENT_NOTE = (None, True)


def min_present(a: Any, b: Any) -> Any:
    """The smaller of two values where None means "nothing heard yet"."""
    if a is None or b is None:
        return b if a is None else a
    return min(a, b)


def small_star_contribution(parent: Any) -> tuple:
    return parent, False


def small_star_add(summary: SmallStar | None, contribution: tuple) -> SmallStar:
    part = SmallStar(*contribution)
    return part if summary is None else small_star_merge(summary, part)


def small_star_merge(a: SmallStar | None, b: SmallStar | None) -> SmallStar | None:
    if a is None or b is None:
        return a if b is None else b
    return SmallStar(min_present(a.smallest, b.smallest), a.is_parent or b.is_parent)


class SmallStarStep(NamedTuple):
    parent: Any  # the node and its smaller neighbours all hang here
    flag: bool  # the node's own edge to `parent` will be its only edge


def small_star_step(node: Any, summary: SmallStar) -> SmallStarStep | None:
    """None when the node received no large-star edge (nothing to hang).

    The flag: a node gets an edge from another node's small-star only as one of that
    node's smaller neighbours, i.e. when some large-star hung a neighbour on it, which
    sent it a parent note. Without a note its own edge is its only one.
    """
    if summary.smallest is None:
        return None
    return SmallStarStep(min(node, summary.smallest), not summary.is_parent)


def small_star_edges(node: Any, step: SmallStarStep) -> Iterator[tuple]:
    """The node's own new edge (only this one can carry the flag)."""
    if step.parent != node:
        yield node, step.parent, step.flag


def small_star_answer(node: Any, step: SmallStarStep, neighbour: Any) -> Iterator[tuple]:
    """A smaller neighbour of the node is hung on the node's parent."""
    if neighbour != step.parent:
        yield neighbour, step.parent, False


# --------------------------------------------------------------------------- in memory


def _fold(pairs: Iterable[tuple[Any, tuple]], add) -> dict[Any, Any]:
    summaries: dict[Any, Any] = {}
    for key, contribution in pairs:
        summaries[key] = add(summaries.get(key), contribution)
    return summaries


def star_round(edges: Iterable[tuple]) -> tuple[set[tuple], set[tuple]]:
    """One large-star + small-star round in memory, with the pipeline's rules.

    `edges` are (a, b, flag) triples (flag False for input edges). Returns the next
    round's edges and the (node, root) labels of the stars that finished.
    """
    halves = [h for edge in edges for h in half_edges(edge)]
    large = _fold(halves, large_star_add)
    steps = {u: large_star_step(u, summary) for u, summary in large.items()}
    finals: set[tuple] = {(u, u) for u, step in steps.items() if step.final}
    incoming: list[tuple[Any, tuple]] = []
    for u, (v, _flag, larger) in halves:
        if larger:
            kind, value = large_star_answer(u, steps[u], v)
            if kind == "final":
                finals.add(value)
            else:
                incoming.append((value[0], small_star_contribution(value[1])))
    notes = [parent_note(u, s, steps[u]) for u, s in large.items()]
    small = _fold(incoming + [n for n in notes if n is not None], small_star_add)
    out: set[tuple] = set()
    for v, summary in small.items():
        step = small_star_step(v, summary)
        if step is not None:
            out.update(small_star_edges(v, step))
    for v, (parent, _) in incoming:
        out.update(small_star_answer(v, small_star_step(v, small[v]), parent))
    return out, finals


def components_by_rounds(
    edges: Iterable[tuple[Node, Node]], max_rounds: int
) -> tuple[dict[Node, Node], int, set[tuple]]:
    """Rounds in memory until no edge is left or `max_rounds` ran: (node -> root labels of
    the finished components, rounds that had edges, edges left unfinished)."""
    current = {(a, b, False) for a, b in edges if a != b}
    labels: dict[Node, Node] = {}
    rounds = 0
    while current and rounds < max_rounds:
        current, finals = star_round(current)
        labels.update(finals)
        rounds += 1
    return labels, rounds, current


def components_reference(edges: Iterable[tuple[Node, Node]]) -> dict[Node, Node]:
    """node -> smallest node of its component, by union-find (the single-machine answer)."""
    parent: dict[Node, Node] = {}

    def find(x: Node) -> Node:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}
