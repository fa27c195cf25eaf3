"""The one shuffle a document crosses in dedup: it meets its decision, keyed by its node.

Exact and near (or perceptual) dedup decide on ids, hashes and sketches only; each
emits at most one decision per node. This join groups a node's document (one, as node
keys are unique) with those decisions and hands both to `apply`, which labels the
document kept or duplicate. Per key: one document and one or two small decisions, so
nothing here grows with a cluster. Per document: the document itself (~2.1 KB of text
at 1 PB, or a media example's records) plus ~60 B per decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam

DUPLICATES = "duplicates"
_ITEM, _DECISION = 0, 1


def _items_and_decisions(element: tuple, apply: Callable, args: tuple) -> Iterator:
    _node, values = element
    items, decisions = [], []
    for tag, value in values:
        (items if tag == _ITEM else decisions).append(value)
    for item in items:
        yield from apply(item, decisions, *args)


def as_item(node: Any, item: Any) -> tuple:
    """An item as the join takes it with `tagged=True` (built by the stage that makes it)."""
    return node, (_ITEM, item)


def as_decision(node: Any, decision: Any) -> tuple:
    """A decision as the join takes it with `tagged=True`."""
    return node, (_DECISION, decision)


class JoinDecisions(beam.PTransform):
    """`(items, decisions)`, both keyed by node → `apply(item, decisions, *args)` per item.

    `apply` yields kept items and `TaggedOutput(DUPLICATES, ...)`; the result has `main`
    (kept) and `duplicates`. With `tagged`, the inputs are already `as_item` and
    `as_decision` pairs: the stages that make them shape them, which saves a Map per
    document and per decision (each costs a DoFn call per element on DirectRunner).
    """

    def __init__(
        self, apply: Callable[..., Iterator], args: tuple = (), tagged: bool = False
    ) -> None:
        super().__init__()
        self.apply = apply
        self.args = args
        self.tagged = tagged

    def expand(self, inputs: tuple[beam.PCollection, ...]):
        items, *decisions = inputs
        if self.tagged:
            tagged = list(inputs)
        else:
            tagged = [items | "TagItems" >> beam.MapTuple(as_item)]
            for i, pcoll in enumerate(decisions):
                tagged.append(pcoll | f"TagDecisions{i}" >> beam.MapTuple(as_decision))
        return (
            tagged
            | "Both" >> beam.Flatten()
            | "GroupByNode" >> beam.GroupByKey()
            | "Apply"
            >> beam.FlatMap(_items_and_decisions, self.apply, self.args).with_outputs(
                DUPLICATES, main="kept"
            )
        )
