"""Connected components of a duplicate graph on Beam, with no single-worker step.

Large-star / small-star rounds (see `polymix/transforms/star_cc.py`) unrolled `max_rounds`
times: each round is two GroupByKeys over the edges, keyed by node, so the work and
the memory of every step are per node, never per graph. A round on a converged graph
rewrites it to itself, so extra rounds cost one shuffle of the edges each and change
nothing. A final check groups by node once more and fails the run if any node still has
two parents or a parent that is not a root.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam

from polymix.transforms.star_cc import both_directions, by_larger, large_star, small_star

_PARENT = "p"
_CHILD = "c"


class NotConvergedError(RuntimeError):
    """The unrolled rounds were too few for this graph; the message says what to raise."""


class ConnectedComponents(beam.PTransform):
    """`(a, b)` edges in; `{"members": (node, root), "sizes": (root, size)}` out.

    `members` has one entry per node of a component other than its root (the smallest
    node); `sizes` one per root, counting the root. Nodes without edges appear in neither.
    """

    def __init__(self, max_rounds: int, rounds_key: str = "max_rounds") -> None:
        super().__init__()
        self.max_rounds = max_rounds
        self.rounds_key = rounds_key

    def expand(self, edges: beam.PCollection) -> dict[str, beam.PCollection]:
        current = edges
        for r in range(self.max_rounds):
            current = (
                current
                | f"LargeStarKey{r}" >> beam.FlatMap(both_directions)
                | f"LargeStarGroup{r}" >> beam.GroupByKey()
                | f"LargeStar{r}" >> beam.FlatMapTuple(large_star)
                | f"SmallStarKey{r}" >> beam.Map(by_larger)
                | f"SmallStarGroup{r}" >> beam.GroupByKey()
                | f"SmallStar{r}" >> beam.FlatMapTuple(small_star)
            )
        members = (
            current
            | "CheckKey" >> beam.FlatMap(_parent_and_child)
            | "CheckGroup" >> beam.GroupByKey()
            | "Check" >> beam.FlatMap(_check_star, self.max_rounds, self.rounds_key)
        )
        sizes = (
            members
            | "RootOf" >> beam.Map(lambda member: (member[1], 1))
            | "CountMembers" >> beam.CombinePerKey(sum)
            | "CountRoot" >> beam.MapTuple(lambda root, n: (root, n + 1))
        )
        return {"members": members, "sizes": sizes}


def _parent_and_child(edge: tuple[str, str]) -> Iterator[tuple[str, tuple[str, str | None]]]:
    child, parent = edge
    yield child, (_PARENT, parent)
    yield parent, (_CHILD, None)


def _check_star(
    element: tuple[str, Iterable[tuple[str, str | None]]], max_rounds: int, rounds_key: str
) -> Iterator[tuple[str, str]]:
    """Emit (node, root) if the node hangs on exactly one root; fail if it does not."""
    node, tags = element
    parents = set()
    has_children = False
    for tag, parent in tags:
        if tag == _PARENT:
            parents.add(parent)
        else:
            has_children = True
    if len(parents) > 1 or (parents and has_children):
        raise NotConvergedError(
            f"connected components did not converge in {max_rounds} large-star/small-star "
            f"rounds (node {node!r} is not yet on its root); raise {rounds_key}"
        )
    if parents:
        yield node, parents.pop()
