"""MediaDuplicates on decoded results with chosen perceptual hashes (no decoding needed)."""

from __future__ import annotations

import random

import apache_beam as beam

from polymix.core.config.media import PerceptualDedupConfig
from polymix.pipelines.media_dedup import CLUSTER_SIZE_ATTRIBUTE, MediaDuplicates
from polymix.transforms.example import Example
from polymix.transforms.media.process import MediaResult
from tests.support.group_probe import collect, probe_groups

_BASE = 0x9E3779B97F4A7C15


def _flip(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def _result(spec: tuple[str, bytes, str]) -> MediaResult:
    doc_id, phash, content = spec
    example = Example(source="images", id=doc_id, modality="image")
    return MediaResult(example, (), content, phash)


def _run(specs: list, config: PerceptualDedupConfig, exact: bool = True):
    specs = [(i, h.to_bytes(8, "big"), c) for i, h, c in specs]  # beam's int coder is 64-bit
    with beam.Pipeline() as pipeline:
        results = pipeline | beam.Create(specs, reshuffle=False) | beam.Map(_result)
        out = results | MediaDuplicates(config, exact)
        kept, duplicates = collect(out["kept"], "Kept"), collect(out["duplicates"], "Duplicates")
    return kept, duplicates


def _distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_a_hash_chain_is_cut_so_every_removed_image_is_within_the_floor():
    """Each picture 6 bits from the next, 12 from the one after: one cluster by transitivity,
    but a copy may only go if its kept picture is within max_distance (10)."""
    hashes, value = [], _BASE
    for step in range(40):
        hashes.append(value)
        value = _flip(value, [(step * 6 + j) % 64 for j in range(6)])
    specs = [(f"img{i:03d}", h, f"content{i}") for i, h in enumerate(hashes)]
    kept, duplicates = _run(specs, PerceptualDedupConfig(max_rounds=10))
    by_id = {f"img{i:03d}": h for i, h in enumerate(hashes)}
    kept_ids = {r.example.id for r in kept}
    assert len(kept_ids) + len(duplicates) == len(specs)
    far = [
        (d.example.id, d.kept_id)
        for d in duplicates
        if _distance(by_id[d.example.id], by_id[d.kept_id]) > 10 or d.kept_id not in kept_ids
    ]
    assert far == []
    for d in duplicates:
        assert d.similarity == 1 - _distance(by_id[d.example.id], by_id[d.kept_id]) / 64
    assert len(duplicates) >= len(specs) // 3
    sizes = {r.example.id: r.example.attributes[CLUSTER_SIZE_ATTRIBUTE] for r in kept}
    for kept_id in kept_ids:
        assert sizes[kept_id] == 1 + sum(d.kept_id == kept_id for d in duplicates)


def test_hot_exact_and_perceptual_groups_stay_small_per_key(monkeypatch):
    """800 identical files and 800 re-encodes of one picture: ids and hashes spread."""
    rng = random.Random(5)
    specs = [(f"same{i:04d}", _BASE, "one-content") for i in range(800)]
    specs += [(f"near{i:04d}", _flip(_BASE, [rng.randrange(64)]), f"c{i}") for i in range(800)]
    stats = probe_groups(monkeypatch)
    kept, duplicates = _run(specs, PerceptualDedupConfig(max_rounds=10))
    assert [r.example.id for r in kept] == ["near0000"]
    stages = {d.stage for d in duplicates}
    assert stages == {"exact_dedup", "phash_dedup"} and len(duplicates) == 1599
    assert stats.largest_values <= 64, stats.per_label


def test_exact_groups_keep_the_smallest_id_whatever_the_order():
    for order in ([2, 0, 1], [1, 2, 0]):
        specs = [(f"img{i}", _BASE ^ (i << 40), "same") for i in order]
        specs.append(("other", _flip(_BASE, list(range(32))), "different"))
        kept, duplicates = _run(specs, PerceptualDedupConfig(enabled=False, max_rounds=1))
        assert sorted(r.example.id for r in kept) == ["img0", "other"]
        assert sorted((d.example.id, d.kept_id, d.stage) for d in duplicates) == [
            ("img1", "img0", "exact_dedup"),
            ("img2", "img0", "exact_dedup"),
        ]
