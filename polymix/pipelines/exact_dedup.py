"""Exact deduplication on a content hash, decided on ids: one copy per hash survives.

    (hash, (node, payload)) ─Combine[count, first by order, salts]─► kept node per hash
                                                                   └► survivors (kept, payload)
    (hash, node) ─Meet(hash, salt)─► (node, kept) for every other member

The survivor is the member `order` puts first ((source, id) for text, so the choice
does not depend on arrival order or worker count), and it carries its `payload`
(text: its LSH band keys; media: its perceptual hash) on to near dedup, which therefore
sees each distinct content once. No document crosses these shuffles: the caller joins
each one with its decision once (`dedup_join.py`).

At 1 PB and for a hash with 10^8 copies, per key: one accumulator per bundle in the
combine (count, the first member and its payload, <= 512 B of salts); ~24,400 ids
streamed per (hash, salt) key in the meet. Per document: (32-byte hash, ~40-byte node,
payload) into the combine, fewer when a bundle holds several copies; (hash, salt, node)
~80 B into the meet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.pipelines.salted_join import Meet, WithSalts, hub_copies, member_copy

STAGE = "exact_dedup"
_HUBS = "hubs"


class _KeptCopy(beam.CombineFn):
    """Over (node, payload): the member count and the member `order(node)` puts first."""

    def __init__(self, order: Callable[[str], Any]) -> None:
        self.order = order

    def create_accumulator(self) -> tuple:
        return 0, None

    def add_input(self, accumulator: tuple, element: tuple) -> tuple:
        node, payload = element
        return self.merge_accumulators([accumulator, (1, (self.order(node), node, payload))])

    def merge_accumulators(self, accumulators) -> tuple:
        count, best = 0, None
        for other_count, other in accumulators:
            count += other_count
            if other is not None and (best is None or other[:2] < best[:2]):
                best = other
        return count, best

    def extract_output(self, accumulator: tuple) -> tuple:
        return accumulator


def _by_node(node: str) -> str:
    return node


class ExactGroups(beam.PTransform):
    """`(hash, (node, payload))` → `{"duplicates": (node, kept node), "survivors": (kept
    node, payload)}`: one survivor per hash, the member `order(node)` puts first."""

    def __init__(self, order: Callable[[str], Any] = _by_node, counters: str = STAGE) -> None:
        super().__init__()
        self.order = order
        self.counters = counters

    def expand(self, items: beam.PCollection) -> dict[str, beam.PCollection]:
        kept = (
            items
            | "KeptCopy" >> beam.CombinePerKey(WithSalts(_KeptCopy(self.order)))
            | "Survivors" >> beam.FlatMapTuple(_survivor).with_outputs(_HUBS, main="survivors")
        )
        members = items | "Members" >> beam.MapTuple(lambda key, item: member_copy(key, item[0]))
        duplicates = (kept[_HUBS], members) | "NameKept" >> Meet(_name_kept, args=(self.counters,))
        return {"duplicates": duplicates, "survivors": kept.survivors}


def _survivor(_key, summary_and_salts) -> Iterator:
    (count, (_order, node, payload)), salts = summary_and_salts
    yield node, payload
    if count > 1:  # only groups with copies need their kept node met
        for copy in hub_copies(_key, node, salts):
            yield beam.pvalue.TaggedOutput(_HUBS, copy)


def _name_kept(_key, kept: str, node: str, _payload, counters: str) -> Iterator[tuple]:
    if node != kept:
        Metrics.counter(counters, "duplicates").inc()
        yield node, kept
