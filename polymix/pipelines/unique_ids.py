"""`(source, id)` unique by construction: repeated ids are found on Beam right after reading.

Of the examples of one source that share an id, the copy read first (the smallest
`(file id, position in the file)`, both independent of where the corpus lies and of
arrival order) keeps it; every other copy is rejected as `read/duplicate_id` with its
whole example in `rejected/`, so nothing is lost and a user sees what their id field
repeats. Rejected rather than renamed: a renamed id could collide with another real
id, and a repeated id usually means the id field is the wrong one (`path` in a code
corpus of many repositories). Exact copies of a kept document still reach exact
dedup under their own, unique ids only if their ids differ.

    (position, example) ─► ((source, id), position) ─CombinePerKey(count, first)─┐
                        └► (position, example) ────────────── CoGroupByKey(position) ◄┘ (first, count)
                                                                   └► kept | read/duplicate_id

Scale (1 PB: 5x10^11 documents of ~2 KB):
- per key: the combine is lifted, so an id repeated 10^8 times costs one (count, first
  position) accumulator of ~100 B per bundle that holds copies of it, then one merge of
  those (a few thousand accumulators: ~1 MB), never the documents. The join is keyed by
  the document's own position, so every key holds exactly one example (at most
  `read.max_line_bytes`) plus at most one ~100 B mark, however often its id repeats: no
  hot key anywhere.
- shuffled: ~100 B per document into the combine (50 TB, less where lifting merges
  repeats), one ~100 B mark per distinct id (at most 50 TB), and each document once
  (~1 PB). That join also spreads each file's examples over the workers, which the
  media path needs anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.transforms.example import Example, Rejection

Position = tuple[str, int]  # (file id relative to the source's root, example number in the file)
STAGE = "read"
REASON = "duplicate_id"
REJECTED = "rejected"


class FirstAndCount(beam.CombineFn):
    """(copies, smallest position) of one id: a constant-size accumulator, so it lifts."""

    def create_accumulator(self) -> tuple[int, Position | None]:
        return 0, None

    def add_input(
        self, accumulator: tuple[int, Position | None], position: Position
    ) -> tuple[int, Position | None]:
        count, first = accumulator
        return count + 1, position if first is None or position < first else first

    def merge_accumulators(
        self, accumulators: Iterable[tuple[int, Position | None]]
    ) -> tuple[int, Position | None]:
        total, smallest = 0, None
        for count, first in accumulators:
            total += count
            if first is not None and (smallest is None or first < smallest):
                smallest = first
        return total, smallest

    def extract_output(self, accumulator: tuple[int, Position | None]) -> tuple[int, Any]:
        return accumulator


def _by_id(item: tuple[Position, Example]) -> tuple[tuple[str, str], Position]:
    position, example = item
    return (example.source, example.id), position


def _by_position(item: tuple[Position, Example]) -> tuple[tuple[str, str, int], Example]:
    position, example = item
    return (example.source, *position), example


def _mark_first(
    item: tuple[tuple[str, str], tuple[int, Position]],
) -> tuple[tuple[str, str, int], int]:
    (source, _), (count, first) = item
    return (source, *first), count


def _route(key: Any, grouped: dict[str, Iterable[Any]]) -> Iterator[Any]:
    is_first = any(True for _ in grouped["first"])
    for example in grouped["example"]:
        if is_first:
            yield example
            continue
        Metrics.counter(STAGE, REASON).inc()
        detail = (
            f"id {example.id!r} repeats in source {example.source}; the copy read first "
            "(smallest file, then position in it) keeps it"
        )
        yield beam.pvalue.TaggedOutput(REJECTED, Rejection(example, STAGE, REASON, detail))


class UniqueIds(beam.PTransform):
    """`PCollection[(Position, Example)]` → `{"examples": Example, "rejected": Rejection}`.

    Positions must be unique per source (the readers number a file's examples).
    """

    def expand(self, items: beam.PCollection) -> dict[str, beam.PCollection]:
        firsts = (
            items
            | "ById" >> beam.Map(_by_id)
            | "FirstPerId" >> beam.CombinePerKey(FirstAndCount())
            | "MarkFirst" >> beam.Map(_mark_first)
        )
        keyed = items | "ByPosition" >> beam.Map(_by_position)
        routed = (
            {"example": keyed, "first": firsts}
            | "JoinFirst" >> beam.CoGroupByKey()
            | "KeepFirst" >> beam.FlatMapTuple(_route).with_outputs(REJECTED, main="examples")
        )
        return {"examples": routed.examples, "rejected": routed[REJECTED]}
