"""Mixing: grain's interleave, named and re-weightable, and the planned position shares."""

import collections

import grain
import numpy as np

from polymix.trainer.data import make_loader
from polymix.trainer.data.mixing import MixtureSchedule, counts, int_proportions, record_weights
from tests.trainer import data_fixture as F

NAMES = ["a", "b", "c"]


def test_counts_match_the_selection_one_by_one():
    schedule = MixtureSchedule.start(NAMES, {"a": 0.5, "b": 0.3, "c": 0.2})
    seen = collections.Counter()
    props = tuple(schedule.segments[0].weights[n] for n in NAMES)
    for k in range(500):
        assert counts(k, props) == [seen[i] for i in range(3)]
        source, key = schedule[k]
        assert key == seen[source]
        seen[source] += 1


def test_one_segment_selects_what_grains_mix_selects():
    parts = [grain.MapDataset.range(i * 10_000, (i + 1) * 10_000) for i in range(3)]
    ours = grain.MapDataset.select_from_datasets(
        parts, MixtureSchedule.start(NAMES, {"a": 1, "b": 2, "c": 3})
    )
    theirs = grain.MapDataset.mix(parts, [1, 2, 3])
    assert [ours[i] for i in range(600)] == [theirs[i] for i in range(600)]


def test_reweighting_continues_every_source_without_repeat_or_skip():
    before = MixtureSchedule.start(NAMES, {"a": 0.5, "b": 0.3, "c": 0.2})
    after = before.reweighted(777, {"a": 0.1, "c": 0.9})  # b dropped
    assert after.reweighted(777, {"a": 0.1, "c": 0.9}) is after
    keys = collections.defaultdict(list)
    for k in range(3000):
        source, key = after[k]
        if k < 777:
            assert (source, key) == before[k]
        keys[source].append(key)
    for source, seen in keys.items():
        assert seen == list(range(len(seen))), NAMES[source]
    assert after.consumed(3000)["b"] == before.consumed(777)["b"]
    restored = MixtureSchedule.from_json(NAMES, after.to_json())
    assert [restored[k] for k in range(2000)] == [after[k] for k in range(2000)]


def test_position_weights_become_record_weights():
    weights = record_weights({"long": 0.5, "short": 0.5}, {"long": 100.0, "short": 10.0})
    assert np.isclose(weights["short"] / weights["long"], 10.0)
    assert int_proportions({"x": 0.25, "y": 0.75}) == {"x": 10_000, "y": 30_000}


def test_position_shares_match_the_plan(corpus):
    """Tolerance: 0.02 absolute per source over 60 batches of 8 x 64 (about 1,400 records)."""
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs())
    positions = collections.Counter()
    for _ in range(60):
        batch = next(loader)
        for _row, start, end, source, _uid in F.segments(batch, corpus):
            positions[source] += end - start
    total = sum(positions.values())
    shares = {name: positions[name] / total for name in corpus.manifest.mixture}
    print("planned", corpus.manifest.mixture, "measured", shares)
    for name, planned in corpus.manifest.mixture.items():
        assert abs(shares[name] - planned) < 0.02, (name, shares[name], planned)
