"""The per-node steps of large-star / small-star connected components, and a reference.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): alternate
two local rewrites of the edge set until it is a forest of stars, each pointing at its
component's smallest node. Each rewrite looks only at one node and its neighbours, so a
distributed runner can apply it per key with no step holding the whole graph. The
pipeline (`polymix/pipelines/connected_components.py`) does the grouping; the logic lives here
so it is testable without Beam.

Nodes are any totally ordered values (the pipeline uses strings).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


# Groups are streamed twice (minimum, then output) rather than held; repeated neighbours
# are dropped only while there are fewer than this many, so a node of a huge cluster
# costs bounded memory (a repeat left in is harmless: it only repeats an edge).
DISTINCT_LIMIT = 100_000


def distinct_bounded(values: Iterable[Node], limit: int = DISTINCT_LIMIT) -> Iterator[Node]:
    """`values` without repeats while fewer than `limit` are seen, then all of them."""
    seen: set[Node] = set()
    for value in values:
        if value in seen:
            continue
        if len(seen) < limit:
            seen.add(value)
        yield value


def large_star(node: Node, neighbours: Iterable[Node]) -> Iterator[tuple[Node, Node]]:
    """Hang every strictly larger neighbour on the smallest node of the neighbourhood.

    `neighbours` must be re-iterable (a GroupByKey's values are).
    """
    smallest = min(neighbours, default=node)
    smallest = min(smallest, node)
    for other in distinct_bounded(neighbours):
        if other > node:
            yield other, smallest


def small_star(node: Node, smaller_neighbours: Iterable[Node]) -> Iterator[tuple[Node, Node]]:
    """Hang the node and its smaller neighbours on the smallest of them (re-iterable)."""
    smallest = min(min(smaller_neighbours, default=node), node)
    for other in distinct_bounded(smaller_neighbours):
        if other != smallest and other != node:
            yield other, smallest
    if node != smallest:
        yield node, smallest


def both_directions(edge: tuple[Node, Node]) -> Iterator[tuple[Node, Node]]:
    """Large-star keys each edge by both endpoints."""
    a, b = edge
    yield a, b
    yield b, a


def by_larger(edge: tuple[Node, Node]) -> tuple[Node, Node]:
    """Small-star keys each edge by its larger endpoint."""
    a, b = edge
    return (a, b) if a > b else (b, a)


def star_round(edges: Iterable[tuple[Node, Node]]) -> set[tuple[Node, Node]]:
    """One large-star then one small-star over an in-memory edge list (tests, reference)."""
    out: set[tuple[Node, Node]] = set()
    for node, neighbours in _group(e for edge in edges for e in both_directions(edge)).items():
        out.update(large_star(node, neighbours))
    result: set[tuple[Node, Node]] = set()
    for node, neighbours in _group(by_larger(e) for e in out).items():
        result.update(small_star(node, neighbours))
    return result


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


def _group(pairs: Iterable[tuple[Node, Node]]) -> dict[Node, list[Node]]:
    grouped: dict[Node, list[Node]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped
