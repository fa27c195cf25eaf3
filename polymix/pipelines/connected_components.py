"""Connected components of a duplicate graph on Beam: rounds that stop when done, no hot key.

Large-star / small-star rounds (`polymix/transforms/star_cc.py`, Kiveris et al. SoCC 2014)
unrolled `max_rounds` times. Each half-round is a lifted combine (a node's
neighbourhood summary) and a salted meet (`salted_join.py`: the summary answers every
neighbour, a hub's neighbours spread over 4,096 keys), so a 10^8-member cluster costs
no worker more than one accumulator per bundle and ~24,400 streamed edges per key.

A component that has become a star leaves the rounds one round later: its edges are
output as final labels and never shuffled again. Later rounds see only components still
changing; once none is, a round shuffles nothing, but it is still in the graph: ~31
transforms and 4 shuffles a round, a fixed cost on every runner (DirectRunner spends
~0.3 CPU-s a round building, translating and running them; on Dataflow each is a step).
So the default is what the graphs near dedup makes need, with room: an LSH-like graph
(pairs, small stars, short paths, some 60-node clusters) is 80% gone after 3 rounds and
done after 7; 12 (the default) also finish a chain of ~10^4 (ids sorted along it or not:
ranks are hashes), a chain of 10^5 needs 15 and one of 10^7 19 (`benchmarks/scale.py
cc`). Should the rounds run out, nothing fails: each unfinished node is labelled with
its smallest current neighbour below it (or itself), which cuts the unfinished
component into stars, each inside that component. Dedup stays correct on such a cut
(every removal is checked against its kept document, `cluster_floor.py`), it only keeps
more, and little on the long chains that need the rounds: their far ends are below the
floor anyway (a 2,000-page chain that needs 10 rounds keeps 872 pages with 6, 863 with
8 or more). The `unfinished_nodes` counter says how many nodes it touched and that
raising `max_rounds` would remove more.

Shuffled per active edge and round (node ids ~40 B with their 8-byte rank): 2 half-edges
into the large-star combine, 1 member into its meet, 1 edge into the small-star combine,
1 member into its meet (~50-70 B each), plus one summary copy per occupied salt of a
node. Meets drop repeated edges in each bundle before the shuffle (`Meet(distinct=True)`):
rewriting a hub's edges repeats them, and a key would otherwise hold every repeat.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.pipelines.salted_join import Fold, Meet, WithSalts, hub_copies, member_copy
from polymix.transforms import star_cc as cc

NAMESPACE = "connected_components"
_UNFINISHED = Metrics.counter(NAMESPACE, "unfinished_nodes")
_FINAL = "final"


class ConnectedComponents(beam.PTransform):
    """`(a, b)` edges of node strings in; `{"labels": (node, root)}` out.

    Every node with an edge gets one label: its component's smallest node by
    `star_cc.rank` (itself for the root). Nodes without edges get none.
    """

    def __init__(self, max_rounds: int) -> None:
        super().__init__()
        self.max_rounds = max_rounds

    def expand(self, edges: beam.PCollection) -> dict[str, beam.PCollection]:
        current = edges | "Rank" >> beam.ParDo(_RankedHalfEdges()).with_outputs(
            _MEMBERS, main=_CONTRIBUTIONS
        )
        active = (current[_CONTRIBUTIONS], (current[_MEMBERS],))
        labels = []
        for r in range(self.max_rounds):
            out = active | f"Round{r:02d}" >> _Round(r)
            active = (out[_CONTRIBUTIONS], out[_MEMBERS])
            labels += [out[_FINAL], out[_ROOTS]]
        labels.append(active[0] | "Unfinished" >> _LabelUnfinished())
        merged = labels | "AllLabels" >> beam.Flatten()
        return {"labels": merged | "Unrank" >> beam.MapTuple(_unrank)}


def _unrank(node: tuple, root: tuple) -> tuple[str, str]:
    return node[1], root[1]


_HUBS, _NOTES, _MEMBERS, _CONTRIBUTIONS, _ROOTS = "hubs", "notes", "members", "in", "roots"


def _half_edge_outputs(edge: tuple, tagged: bool) -> Iterator:
    """An active edge as the next large-star needs it: both ends into the neighbourhood
    summaries (a tagged output if `tagged`, else the main one), and the larger end as a
    member of the smaller end's meet."""
    for node, contribution in cc.half_edges(edge):
        neighbour, _flag, larger = contribution
        summary_input = (node, (neighbour if larger else None, contribution))
        yield beam.pvalue.TaggedOutput(_CONTRIBUTIONS, summary_input) if tagged else summary_input
        if larger:
            yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(node, neighbour))


class _RankedHalfEdges(beam.DoFn):
    def __init__(self) -> None:
        self.edges = Metrics.counter(NAMESPACE, "edges_round_00")

    def process(self, edge: tuple[str, str]) -> Iterator:
        a, b = edge
        if a != b:
            self.edges.inc()
            yield from _half_edge_outputs((cc.rank(a), cc.rank(b), False), tagged=False)


class _Round(beam.PTransform):
    """One large-star and one small-star step: two lifted combines and two salted meets
    (four shuffles), each step's per-node work in one ParDo. Takes and gives the active
    edges as half-edge contributions + meet members (the members as the PCollections that
    made them: the next large-star meet flattens them with its hubs, one Flatten fewer);
    the last round's contributions are the leftovers. Also gives the labels of the stars
    that finished."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def expand(self, active: tuple) -> dict[str, beam.PCollection]:
        contributions, members = active
        large = (
            contributions
            | "LargeSummary"
            >> beam.CombinePerKey(WithSalts(Fold(cc.large_star_add, cc.large_star_merge)))
            | "LargeStep" >> beam.ParDo(_large_step).with_outputs(_HUBS, _NOTES, main=_ROOTS)
        )
        hung = (large[_HUBS], *members) | "LargeMeet" >> Meet(
            _large_answer, outputs=(_FINAL, _MEMBERS), distinct=True
        )
        small = (
            (hung.main, large[_NOTES])
            | "SmallIn" >> beam.Flatten()
            | "SmallSummary"
            >> beam.CombinePerKey(WithSalts(Fold(cc.small_star_add, cc.small_star_merge)))
            | "SmallStep"
            >> beam.ParDo(_SmallStep(self.index)).with_outputs(_CONTRIBUTIONS, _MEMBERS, main=_HUBS)
        )
        rehung = (small[_HUBS], hung[_MEMBERS]) | "SmallMeet" >> Meet(
            _small_answer, args=(self.index,), outputs=(_MEMBERS,), distinct=True
        )
        return {
            _CONTRIBUTIONS: (small[_CONTRIBUTIONS], rehung.main) | "NextIn" >> beam.Flatten(),
            _MEMBERS: (small[_MEMBERS], rehung[_MEMBERS]),
            _FINAL: hung[_FINAL],
            _ROOTS: large[_ROOTS],
        }


def _large_step(element: tuple) -> Iterator:
    """A node's large-star step: its summary to its larger neighbours' keys, the parent
    note, and its own root label when its star is finished."""
    node, (summary, salts) = element
    step = cc.large_star_step(node, summary)
    for copy in hub_copies(node, step, salts):
        yield beam.pvalue.TaggedOutput(_HUBS, copy)
    note = cc.parent_note(node, summary, step)
    if note is not None:
        yield beam.pvalue.TaggedOutput(_NOTES, (note[0], (None, note[1])))
    if step.final:
        yield node, node


def _large_answer(node, step, neighbour, _payload) -> Iterator:
    kind, value = cc.large_star_answer(node, step, neighbour)
    if kind == _FINAL:
        yield beam.pvalue.TaggedOutput(_FINAL, value)
        return
    child, parent = value
    yield child, (parent, cc.small_star_contribution(parent))
    yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(child, parent))


class _SmallStep(beam.DoFn):
    """A node's small-star step: its own new edge (into the next round, counted) and its
    parent to its smaller neighbours' keys."""

    def __init__(self, index: int) -> None:
        self.next_edges = Metrics.counter(NAMESPACE, f"edges_round_{index + 1:02d}")

    def process(self, element: tuple) -> Iterator:
        node, (summary, salts) = element
        step = cc.small_star_step(node, summary)
        if step is None:
            return
        for edge in cc.small_star_edges(node, step):
            self.next_edges.inc()
            yield from _half_edge_outputs(edge, tagged=True)
        yield from hub_copies(node, step, salts)


def _small_answer(node, step, neighbour, _payload, index: int) -> Iterator:
    for edge in cc.small_star_answer(node, step, neighbour):
        Metrics.counter(NAMESPACE, f"edges_round_{index + 1:02d}").inc()
        yield from _half_edge_outputs(edge, tagged=False)


class _SmallestParent(beam.CombineFn):
    """The smallest of a node's parents (None: it has none)."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, parent):
        if parent is None or accumulator is None:
            return accumulator if parent is None else parent
        return min(accumulator, parent)

    def merge_accumulators(self, accumulators):
        return min((a for a in accumulators if a is not None), default=None)

    def extract_output(self, accumulator):
        return accumulator


class _LabelUnfinished(beam.PTransform):
    """Edges left after the last round (as half-edge contributions) → a label per node:
    its smallest neighbour below it, or itself when it has none."""

    def expand(self, contributions: beam.PCollection) -> beam.PCollection:
        return (
            contributions
            | "Parents" >> beam.MapTuple(_parent_or_none)
            | "SmallestParent" >> beam.CombinePerKey(_SmallestParent())
            | "Label" >> beam.MapTuple(_label_unfinished)
        )


def _parent_or_none(node, member_and_contribution) -> tuple:
    neighbour, _flag, larger = member_and_contribution[1]
    return node, None if larger else neighbour


def _label_unfinished(node, parent) -> tuple:
    _UNFINISHED.inc()
    return node, parent if parent is not None else node
