"""Record what every user-level GroupByKey / CoGroupByKey holds per key, on DirectRunner.

`probe_groups(monkeypatch)` swaps `apache_beam.GroupByKey` and `apache_beam.CoGroupByKey`
(as pipeline code reaches them, `beam.GroupByKey()`) for versions that measure each
grouped key after the real grouping: how many values it has, how many bytes they encode
to with the coder Beam uses, and how many `Example`s cross. Beam's own transforms
(combiners, Reshuffle) import the originals directly and are not measured: a lifted
combine groups accumulators, whose number per key is bounded by the bundles, not the data.

Runs in-process only (the default single-worker DirectRunner), where the measuring
DoFn shares this module with the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

import polymix.pipelines  # noqa: F401  (registers the element coders Beam then uses)
from polymix.transforms.example import Example

_REAL_GBK = beam.GroupByKey
_REAL_COGBK = beam.CoGroupByKey
# The coder an untyped collection gets: polymix's element coders, pickle for the rest.
_CODER = beam.coders.registry.get_coder(Any)


@dataclass
class GroupStats:
    largest_values: int = 0  # most values under one key, over all probed groupings
    largest_bytes: int = 0  # most encoded bytes under one key
    examples_crossing: int = 0  # Example objects carried through probed groupings
    keys: int = 0
    values: int = 0  # values grouped, over all keys and groupings
    per_label: dict[str, int] = field(default_factory=dict)  # full label -> largest value count


STATS = GroupStats()


def _count_examples(value) -> int:
    if isinstance(value, Example):
        return 1
    if isinstance(value, tuple | list):
        return sum(_count_examples(v) for v in value)
    if hasattr(value, "example") and isinstance(value.example, Example):
        return 1
    return 0


def _record(label: str, values: list) -> None:
    size = sum(len(_CODER.encode(v)) for v in values)
    STATS.keys += 1
    STATS.values += len(values)
    STATS.largest_values = max(STATS.largest_values, len(values))
    STATS.largest_bytes = max(STATS.largest_bytes, size)
    STATS.examples_crossing += sum(_count_examples(v) for v in values)
    STATS.per_label[label] = max(STATS.per_label.get(label, 0), len(values))


def _measure_gbk(element, label: str):
    key, values = element
    values = list(values)
    _record(label, values)
    return key, values


def _measure_cogbk(element, label: str):
    key, grouped = element
    items = grouped.items() if isinstance(grouped, dict) else enumerate(grouped)
    _record(label, [v for _, vs in items for v in vs])
    return element


def _full_label(pvalue) -> str:
    return pvalue.pipeline._current_transform().full_label


class _ProbedGroupByKey(beam.PTransform):
    def expand(self, pcoll):
        label = _full_label(pcoll)
        return pcoll | "Real" >> _REAL_GBK() | "Measure" >> beam.Map(_measure_gbk, label)


class _ProbedCoGroupByKey(beam.PTransform):
    def __init__(self, *, pipeline=None):
        super().__init__()
        self.pipeline = pipeline

    def expand(self, pcolls):
        label = _full_label(next(iter(pcolls.values())) if isinstance(pcolls, dict) else pcolls[0])
        grouped = pcolls | "Real" >> _REAL_COGBK(pipeline=self.pipeline)
        return grouped | "Measure" >> beam.Map(_measure_cogbk, label)


def probe_groups(monkeypatch) -> GroupStats:
    """Measure every `beam.GroupByKey()` / `beam.CoGroupByKey()` built after this call."""
    global STATS
    STATS = GroupStats()
    monkeypatch.setattr(beam, "GroupByKey", _ProbedGroupByKey)
    monkeypatch.setattr(beam, "CoGroupByKey", _ProbedCoGroupByKey)
    return STATS


def stats() -> GroupStats:
    return STATS


_COLLECTED: dict[str, list] = {}


def _append(element, token: str) -> None:
    _COLLECTED[token].append(element)


def collect(pcoll, label: str) -> list:
    """A list that fills with `pcoll`'s elements when the (in-process) pipeline runs."""
    token = f"{id(pcoll)}:{label}"
    _COLLECTED[token] = []
    _ = pcoll | label >> beam.Map(_append, token)
    return _COLLECTED[token]
