"""Cut connected components so every removed document is within the floor of its kept one.

    labels (node, cluster) ─Combine[smallest, salts]─► kept node of each cluster
    sketches + labels + kept notes ─GBK(node)─► the kept sketch fanned out to its members'
        salts, each member's own sketch to its cluster's salted key
    ─Meet(cluster, salt)─► member vs kept: duplicate (>= floor) | residue
    residue + edges >= floor ─► pivot rounds (`transforms/cluster_floor.py`) ─► duplicates
    duplicates ─Combine[count]─► sizes of the kept clusters

Sketches are whatever `similarity` compares: exact shingle sets (text, verified),
MinHash signatures (text, unverified) or perceptual hashes (media). Per key at 1 PB and
for a 10^8-member cluster: the kept combine holds one accumulator per bundle; the by-node
grouping holds one node's sketch, label and note (bounded by one sketch, ~1.3 KB for a
shingle set); the meet holds one kept sketch and streams ~24,400 members' sketches.
Every member's sketch crosses twice (by node, then to its cluster's key), the kept one
once plus one copy per occupied salt (at most 4,096). A pivot round is two combines and
two meets over the residue's edges (~60 B per half-edge each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.pipelines.salted_join import Fold, Meet, WithSalts, hub_copies, member_copy
from polymix.transforms import cluster_floor as cf
from polymix.transforms.star_cc import rank

_SKETCH, _LABEL, _KEEPER = 0, 1, 2
_MEMBERS, _RESIDUE, _NOTES, _OFFERS, _NEXT = "members", "residue", "notes", "offers", "next"


def _keep_smaller(accumulator, node):
    return cf.smaller(accumulator, node)


class ClusterFloor(beam.PTransform):
    """`{"labels": (node, cluster), "sketches": (node, sketch), "edges": (a, b, similarity)}`
    → `{"duplicates": (node, (kept node, similarity)), "sizes": (kept node, size)}`.

    `similarity(sketch, sketch) -> float` must be a picklable module-level function.
    Kept nodes without removed members get no size (their size is 1). `counters` names
    the Beam counter namespace (the dedup stage).
    """

    def __init__(self, similarity: Callable, floor: float, rounds: int, counters: str) -> None:
        super().__init__()
        self.similarity = similarity
        self.floor = floor
        self.rounds = rounds
        self.counters = counters

    def expand(self, inputs: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        labels, sketches, edges = inputs["labels"], inputs["sketches"], inputs["edges"]
        kept = (
            labels
            | "ByCluster" >> beam.MapTuple(lambda node, cluster: (cluster, (node, node)))
            | "KeptOfCluster" >> beam.CombinePerKey(WithSalts(Fold(_keep_smaller, cf.smaller)))
            | "TellKept" >> beam.MapTuple(lambda cluster, k: (k[0], (_KEEPER, cluster, k[1])))
        )
        by_node = (
            sketches | "TagSketch" >> beam.MapTuple(lambda node, s: (node, (_SKETCH, s))),
            labels | "TagLabel" >> beam.MapTuple(lambda node, c: (node, (_LABEL, c))),
            kept,
        ) | "ByNode" >> beam.Flatten()
        to_cluster = (
            by_node
            | "GroupByNode" >> beam.GroupByKey()
            | "ToCluster" >> beam.FlatMapTuple(_to_cluster).with_outputs(_MEMBERS, main="hubs")
        )
        judged = (to_cluster.hubs, to_cluster[_MEMBERS]) | "MeetKept" >> Meet(
            _judge, args=(self.similarity, self.floor, self.counters), outputs=(_RESIDUE,)
        )
        pivoted = (judged[_RESIDUE], edges) | "Residue" >> _PivotRounds(
            self.floor, self.rounds, self.counters
        )
        duplicates = (judged.main, pivoted) | "Duplicates" >> beam.Flatten()
        sizes = (
            duplicates
            | "OneEach" >> beam.MapTuple(lambda node, decision: (decision[0], 1))
            | "CountRemoved" >> beam.CombinePerKey(sum)
            | "WithKept" >> beam.MapTuple(lambda node, removed: (node, removed + 1))
        )
        return {"duplicates": duplicates, "sizes": sizes}


def _to_cluster(node: str, values) -> Iterator:
    """The kept node fans its sketch out to its cluster's salts; a member sends its own."""
    sketch = label = keeper = None
    for value in values:
        if value[0] == _SKETCH:
            sketch = value[1]
        elif value[0] == _LABEL:
            label = value[1]
        else:
            keeper = value
    if keeper is not None:
        _, cluster, salts = keeper
        yield from hub_copies(cluster, (node, sketch), salts)
    elif label is not None:
        yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(label, node, sketch))


def _judge(cluster, kept, member, sketch, similarity, floor, counters: str) -> Iterator:
    kept_node, kept_sketch = kept
    verdict, score = cf.judge(sketch, kept_sketch, similarity, floor)
    if verdict == "duplicate":
        yield member, (kept_node, score)
    else:
        Metrics.counter(counters, "below_floor").inc()
        yield beam.pvalue.TaggedOutput(_RESIDUE, member)


class _PivotRounds(beam.PTransform):
    """Residue nodes and edges → duplicates removed for a pivot next to them."""

    def __init__(self, floor: float, rounds: int, counters: str) -> None:
        super().__init__()
        self.floor = floor
        self.rounds = rounds
        self.counters = counters

    def expand(self, inputs: tuple) -> beam.PCollection:
        residue, edges = inputs
        notes = residue | "ResidueNotes" >> beam.Map(lambda node: (node, (None, (None, True))))
        halves = edges | "HalfEdges" >> beam.FlatMap(_half_edges, self.floor).with_outputs(
            _MEMBERS, main="contributions"
        )
        first = (
            (halves.contributions, notes)
            | "InResidue" >> beam.Flatten()
            | "ResidueEnds" >> beam.CombinePerKey(WithSalts(_neighbourhood()))
            | "ResidueHubs" >> beam.FlatMapTuple(_active_hubs)
        )
        messages = (first, halves[_MEMBERS]) | "BothInResidue" >> Meet(
            _forward, outputs=(_MEMBERS,)
        )
        active = (messages.main, messages[_MEMBERS], notes)
        removed = []
        for r in range(self.rounds):
            out = active | f"Pivot{r:02d}" >> _PivotRound(r)
            active = (out[_NEXT], out[_MEMBERS], out[_NOTES])
            removed.append(out["removed"])
        _ = active[2] | "Unresolved" >> beam.Map(_count_unresolved, self.counters)
        if not removed:
            return residue.pipeline | "NoneRemoved" >> beam.Create([])
        return removed | "Removed" >> beam.Flatten()


def _neighbourhood() -> Fold:
    return Fold(cf.neighbourhood_add, cf.neighbourhood_merge)


def _half_edges(edge: tuple, floor: float) -> Iterator:
    a, b, score = edge
    if score < floor:
        return
    for node, other in ((a, b), (b, a)):
        yield node, (other, (rank(other), False))
        yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(node, other, score))


def _active_hubs(node, summary_and_salts) -> Iterator:
    summary, salts = summary_and_salts
    if summary.active:
        yield from hub_copies(node, True, salts)


def _forward(node, _active, neighbour, score) -> Iterator:
    """`node` is in the residue: tell `neighbour`, which keeps it if it is in it too."""
    yield neighbour, (node, (rank(node), False))
    yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(neighbour, node, score))


class _PivotRound(beam.PTransform):
    """Pivots decided on their active neighbourhood; neighbours of pivots removed; the
    edges between nodes still active passed on. Two combines, two meets."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def expand(self, active: tuple) -> dict[str, beam.PCollection]:
        messages, members, notes = active
        decided = (
            (messages, notes)
            | "In" >> beam.Flatten()
            | "Neighbourhood" >> beam.CombinePerKey(WithSalts(_neighbourhood()))
            | "Decide" >> beam.FlatMapTuple(_decide).with_outputs(_NOTES, main="hubs")
        )
        offered = (decided.hubs, members) | "Offer" >> Meet(_offer, outputs=(_MEMBERS,))
        resolved = (
            (offered.main, decided[_NOTES])
            | "OffersIn" >> beam.Flatten()
            | "Offers" >> beam.CombinePerKey(Fold(cf.offers_add, cf.offers_merge))
            | "Resolve" >> beam.FlatMapTuple(_resolve).with_outputs(_NOTES, "hubs", main="removed")
        )
        passed = (resolved.hubs, offered[_MEMBERS]) | "PassOn" >> Meet(
            _pass_on, outputs=(_MEMBERS,)
        )
        return {
            "removed": resolved.removed,
            _NEXT: passed.main,
            _MEMBERS: passed[_MEMBERS],
            _NOTES: resolved[_NOTES],
        }


def _decide(node, summary_and_salts) -> Iterator:
    summary, salts = summary_and_salts
    if not summary.active:
        return
    pivot = cf.is_pivot(node, summary)
    yield from hub_copies(node, pivot, salts)
    # its own note carries the salts of all its neighbours: the ones it may pass edges to
    yield beam.pvalue.TaggedOutput(_NOTES, (node, (None, (None, pivot, salts))))


def _offer(node, pivot, neighbour, score) -> Iterator:
    if pivot:
        yield neighbour, (node, ((rank(node), node, score), False, None))
    yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(neighbour, node, (pivot, score)))


def _resolve(node, summary) -> Iterator:
    result = cf.outcome(summary)
    if result[0] == "joined":
        yield node, (result[1], result[2])
    elif result[0] == "active":
        yield beam.pvalue.TaggedOutput(_NOTES, (node, (None, (None, True))))
        for copy in hub_copies(node, True, summary.keys):
            yield beam.pvalue.TaggedOutput("hubs", copy)


def _pass_on(node, _active, neighbour, pivot_and_score) -> Iterator:
    """`node` is still active; so is `neighbour` unless it was a pivot (it may have
    joined one: it drops the message then, having no active note of its own)."""
    pivot, score = pivot_and_score
    if not pivot:
        yield neighbour, (node, (rank(node), False))
        yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(neighbour, node, score))


def _count_unresolved(element, counters: str) -> None:
    Metrics.counter(counters, "floor_unresolved").inc()


__all__ = ["ClusterFloor"]
