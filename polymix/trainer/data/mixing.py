"""Named, resumable mixing: record index in the mixed stream -> (source, index in source).

The mixed stream must stay a grain `MapDataset` (a pure function of the index): that is
what lets grain's worker processes each read a slice of it and still give the same
sequence for any `worker_count`. grain's `MapDataset.mix` is such a function, but for
one fixed set of weights. A `MixtureSchedule` chains segments of it: each segment starts
at a record index, names its sources' weights, and records how many records each source
had already given, so a run resumed with new weights carries on every source where it
stopped instead of re-reading or skipping any.

Weights in the manifest are shares of *positions*; grain mixes *records*. Dividing by
each source's mean positions per record (from the manifest) turns one into the other.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grain
import numpy as np

# grain's own interleaving formula (the one behind `MapDataset.mix`), so a one-segment
# schedule selects exactly what grain's mix would.
from polymix.trainer.grain_compat import (
    dataset_and_key_of_next_element as _dataset_and_key_of_next_element,
)

_SCALE = 10_000  # integer proportions: the smallest weight becomes this many parts


def record_weights(
    position_weights: Mapping[str, float], positions_per_record: Mapping[str, float]
) -> dict[str, float]:
    """Share of records per source that yields the planned share of positions."""
    raw = {
        name: weight / positions_per_record[name]
        for name, weight in position_weights.items()
        if weight > 0 and positions_per_record.get(name, 0) > 0
    }
    total = sum(raw.values())
    if not raw or total <= 0:
        raise ValueError(
            f"no source with a positive weight and records in {dict(position_weights)}"
        )
    return {name: raw[name] / total for name in sorted(raw)}


def int_proportions(weights: Mapping[str, float]) -> dict[str, int]:
    smallest = min(weights.values())
    return {name: max(1, round(w / smallest * _SCALE)) for name, w in sorted(weights.items())}


def select(k: np.ndarray, proportions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """grain's `_dataset_and_key_of_next_element` for an array of indices at once.

    The same integer arithmetic, one numpy pass per input instead of a Python call per
    index (the per-index call cost ~2 us a record). Falls back to Python integers when
    int64 could overflow (indices times the proportions' sum past 2**62).
    """
    k = np.asarray(k, dtype=np.int64)
    total = sum(proportions)
    if len(k) and int(k.max()) + 1 >= (1 << 62) // max(1, total):
        pairs = [_dataset_and_key_of_next_element(int(i), tuple(proportions)) for i in k]
        return (
            np.array([p[0] for p in pairs], dtype=np.int64),
            np.array([p[1] for p in pairs], dtype=np.int64),
        )
    which = np.full(len(k), len(proportions) - 1, dtype=np.int64)
    key = np.full(len(k), -1, dtype=np.int64)
    open_ = np.ones(len(k), dtype=bool)
    remaining = total
    cur_k, cur_k1 = k.copy(), k + 1
    for i, p in enumerate(proportions):
        next_k = (cur_k * (remaining - p)) // remaining
        next_k1 = (cur_k1 * (remaining - p)) // remaining
        taken = cur_k1 - next_k1
        hit = open_ & ((cur_k - next_k) != taken)
        which[hit] = i
        key[hit] = taken[hit] - 1
        open_ &= ~hit
        remaining -= p
        cur_k, cur_k1 = next_k, next_k1
    return which, key


def counts(m: int, proportions: Sequence[int]) -> list[int]:
    """How many of the first `m` mixed records each input gives (grain's formula, summed)."""
    remaining = sum(proportions)
    out = []
    for p in proportions:
        rest = (m * (remaining - p)) // remaining
        out.append(m - rest)
        remaining -= p
        m = rest
    return out


@dataclass(frozen=True)
class Segment:
    start: int
    weights: dict[str, int]  # integer proportions of the sources active in this segment
    offsets: dict[str, int]  # records each source had given before `start`

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "weights": dict(self.weights), "offsets": dict(self.offsets)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Segment:
        return cls(int(raw["start"]), dict(raw["weights"]), dict(raw["offsets"]))


class MixtureSchedule(grain.transforms.DatasetSelectionMap):
    """Index -> (source position in `names`, record index in that source); infinite."""

    def __init__(self, names: Sequence[str], segments: Sequence[Segment]):
        self.names = list(names)
        self.segments = list(segments)
        self._starts = [s.start for s in self.segments]
        self._index = {name: i for i, name in enumerate(self.names)}
        self._active = [sorted(s.weights) for s in self.segments]
        self._props = [
            tuple(s.weights[n] for n in names)
            for s, names in zip(self.segments, self._active, strict=True)
        ]
        for seg, active in zip(self.segments, self._active, strict=True):
            unknown = [n for n in active if n not in self._index]
            if unknown:
                raise ValueError(f"mixture names sources the loader does not have: {unknown}")
            if not active:
                raise ValueError(f"mixture segment at record {seg.start} has no source")

    @classmethod
    def start(cls, names: Sequence[str], weights: Mapping[str, float]) -> MixtureSchedule:
        return cls(names, [Segment(0, int_proportions(weights), {n: 0 for n in names})])

    def __len__(self) -> int:
        return sys.maxsize

    def __getitem__(self, index: int) -> tuple[int, int]:
        k = bisect.bisect_right(self._starts, index) - 1
        seg = self.segments[k]
        i, key = _dataset_and_key_of_next_element(index - seg.start, self._props[k])
        name = self._active[k][i]
        return self._index[name], seg.offsets.get(name, 0) + key

    def select(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`__getitem__` for a block of indices: (position in `names`, key in that source)."""
        indices = np.asarray(indices, dtype=np.int64)
        seg_of = np.searchsorted(np.asarray(self._starts, dtype=np.int64), indices, "right") - 1
        source = np.empty_like(indices)
        key = np.empty_like(indices)
        for k in np.unique(seg_of).tolist():
            here = np.flatnonzero(seg_of == k)
            seg = self.segments[k]
            which, local = select(indices[here] - seg.start, self._props[k])
            ids = np.array([self._index[n] for n in self._active[k]], dtype=np.int64)
            offsets = np.array([seg.offsets.get(n, 0) for n in self._active[k]], dtype=np.int64)
            source[here] = ids[which]
            key[here] = offsets[which] + local
        return source, key

    def consumed(self, index: int) -> dict[str, int]:
        """Records each source has given to mixed records `[0, index)`."""
        k = bisect.bisect_right(self._starts, index) - 1
        seg = self.segments[k]
        taken = counts(index - seg.start, self._props[k])
        out = {name: seg.offsets.get(name, 0) for name in self.names}
        for name, n in zip(self._active[k], taken, strict=True):
            out[name] += n
        return out

    def reweighted(self, index: int, weights: Mapping[str, float]) -> MixtureSchedule:
        """The same history, with `weights` from mixed record `index` on."""
        proportions = int_proportions(weights)
        if proportions == self.segments[-1].weights:
            return self
        kept = [s for s in self.segments if s.start < index]
        offsets = self.consumed(index)
        return MixtureSchedule(self.names, [*kept, Segment(index, proportions, offsets)])

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.segments]

    @classmethod
    def from_json(cls, names: Sequence[str], raw: Sequence[Mapping[str, Any]]) -> MixtureSchedule:
        return cls(names, [Segment.from_json(s) for s in raw])

    def __repr__(self) -> str:
        return f"MixtureSchedule({self.to_json()})"
