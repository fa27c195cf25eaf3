"""Run statistics: fixed-bin histograms that merge exactly, cuts from config, one Beam run."""

import json

import apache_beam as beam
import pytest

from polymix.core.config.filters import FiltersConfig
from polymix.core.manifest import load_manifest
from polymix.pipelines.statistics import (
    EDGES,
    RunStatistics,
    _RecordLengthsFn,
    _RunStatsFn,
    bin_index,
    cuts_from_filters,
    flatten_numeric,
)
from polymix.transforms.example import Duplicate, Example, Rejection, TokenizedRecord
from tests.support.run_layout import data_root


def doc(source: str, i: int, **attributes) -> Example:
    return Example(source, f"{source}-{i}", "text", "x", attributes=attributes)


def kept_docs() -> list[Example]:
    return [
        doc("web", i, language={"lang": "en", "score": 0.9}, fineweb={"short_line_ratio": i / 10})
        for i in range(5)
    ] + [doc("code", 0, minhash_cluster_size=3, modified={"c4": {"lines": 2}})]


def rejections() -> list[Rejection]:
    return [
        Rejection(doc("web", 10, language={"lang": "de", "score": 0.99}), "language", "other"),
        Rejection(
            doc(
                "web", 11, language={"lang": "en", "score": 0.9}, fineweb={"short_line_ratio": 0.95}
            ),
            "fineweb",
            "short_lines",
        ),
        Rejection(Example("web", "bad", "text", None), "read", "invalid_json"),
    ]


def duplicates() -> list[Duplicate]:
    copies = [("web-0", 3), ("web-1", 1), ("code-0", 1)]
    return [
        Duplicate(doc("web", 100 + 10 * k + j), "exact_dedup", kept)
        for k, (kept, n) in enumerate(copies)
        for j in range(n)
    ] + [Duplicate(doc("web", 200), "near_dedup", "web-2", similarity=0.9)]


def test_bins_are_fixed_and_cover_ratios_linearly_and_counts_by_decade():
    assert EDGES[0] == 0 and EDGES[50] == 1 and EDGES[-1] == 1e9
    assert bin_index(-1) == 0 and bin_index(0) == 1 and bin_index(0.5) == 26
    assert bin_index(1e12) == len(EDGES)
    assert EDGES[bin_index(120) - 1] <= 120 < EDGES[bin_index(120)]


def test_attributes_flatten_to_dotted_paths_without_bools_or_modification_counts():
    flat = dict(flatten_numeric({"c4": {"sentences": 3, "lorem": False}, "modified": {"x": 1}}))
    assert flat == {"c4.sentences": 3}


def test_merging_partial_accumulators_equals_one_pass():
    fn = _RunStatsFn()
    items = [("kept", e.source, None, e.attributes) for e in kept_docs()]
    items += [("rejected", r.example.source, r.stage, r.example.attributes) for r in rejections()]
    whole = fn.create_accumulator()
    for item in items:
        fn.add_input(whole, item)
    parts = [fn.create_accumulator(), fn.create_accumulator()]
    for i, item in enumerate(items):
        fn.add_input(parts[i % 2], item)
    merged, single = fn.merge_accumulators(parts), fn.merge_accumulators([whole])
    for acc in (merged, single):  # float sums may differ in the last bit with the order
        per_source = [h for by_path in acc["by_source"].values() for h in by_path.values()]
        for hist in [*acc["histograms"].values(), *per_source]:
            hist["sum"] = round(hist["sum"], 9)
    assert merged == single


def test_cuts_are_the_ones_the_configured_stages_apply():
    filters = FiltersConfig(
        language={"min_score": 0.65},
        gopher_quality={"min_words": 40},
        stages={"text": ["language", "gopher_quality"], "code": ["code"]},
    )
    cuts = cuts_from_filters(filters)
    assert {"key": "language: low_score", "value": 0.65, "keep": "above"} in cuts["language.score"]
    assert 40 in [c["value"] for c in cuts["gopher_quality.n_words"]]
    assert all(c["keep"] in ("above", "below") for entries in cuts.values() for c in entries)
    assert not any(name.startswith("fineweb.") for name in cuts)  # fineweb is not configured
    assert any(name.startswith("code.") for name in cuts)
    assert cuts_from_filters(None) == {}


def test_the_transform_writes_one_small_stats_file(tmp_path):
    cuts = {"fineweb.short_line_ratio": [{"key": "k", "value": 0.67, "keep": "below"}]}
    with beam.Pipeline() as pipeline:
        inputs = tuple(
            pipeline | name >> beam.Create(items)
            for name, items in (("K", kept_docs()), ("R", rejections()), ("D", duplicates()))
        )
        _ = inputs | RunStatistics(str(tmp_path), cuts, ["read", "exact_dedup", "language"])
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["stages"] == ["read", "exact_dedup", "language"]
    assert stats["examples"] == {"duplicates": 6, "kept": 6, "rejected": 3}
    assert stats["removals"]["exact_dedup"] == {"duplicates": 5}
    assert stats["removals"]["read"] == {"rejected": 1}
    assert stats["languages"]["web"] == {
        "de": {"rejected": 1},
        "en": {"passed": 6},  # rejected by fineweb, so language passed it
    }
    short = stats["attributes"]["fineweb.short_line_ratio"]
    assert sum(short["passed"]) == 5 and sum(short["rejected"]) == 1
    assert short["rejected"][-1] == 1 and short["edges"][-1] >= 0.95 >= short["edges"][-2]
    assert short["cuts"] == cuts["fineweb.short_line_ratio"]
    assert short["min"] == 0 and short["max"] == 0.95 and len(short["edges"]) == 49
    assert stats["attributes"]["minhash_cluster_size"]["count"] == 1
    assert "modified.c4.lines" not in stats["attributes"]
    assert stats["clusters"]["exact_dedup"] == {
        "clusters": 3,
        "documents": 8,
        "sizes": {"2": 2, "4": 1},
    }
    assert stats["clusters"]["near_dedup"]["sizes"] == {"2": 1}


def test_the_demo_runs_statistics_agree_with_its_manifest(demo_run):
    if not (data_root(demo_run) / "stats.json").is_file():
        pytest.skip("pipelines/corpus.py does not run RunStatistics yet")
    manifest = load_manifest(demo_run / "manifest.json")
    stats = json.loads((data_root(demo_run) / "stats.json").read_text())
    totals = manifest.sources.values()
    assert stats["examples"].get("kept", 0) == sum(t.kept for t in totals)
    for stage, removed in stats["removals"].items():
        assert removed.get("rejected", 0) == sum(
            sum(t.rejected.get(stage, {}).values()) for t in totals
        )
        assert removed.get("duplicates", 0) == sum(t.duplicates.get(stage, 0) for t in totals)
    for stage, clusters in stats["clusters"].items():
        assert clusters["documents"] - clusters["clusters"] == sum(
            t.duplicates.get(stage, 0) for t in totals
        )


def records(source: str, lengths: list[int]) -> list[TokenizedRecord]:
    modality = "image" if source == "photos" else "text"
    return [
        TokenizedRecord(source, modality, f"{source}-{i}", b"", n, f"{source}-{i}")
        for i, n in enumerate(lengths)
    ]


def test_record_lengths_hold_a_fixed_array_per_source_and_merge_exactly():
    fn = _RecordLengthsFn()
    items = [("web", 1 + (i * 37) % 4096) for i in range(5000)] + [("photos", 257)] * 7
    whole = fn.create_accumulator()
    for item in items:
        fn.add_input(whole, item)
    parts = [fn.create_accumulator() for _ in range(3)]
    for i, item in enumerate(items):
        fn.add_input(parts[i % 3], item)
    merged = fn.merge_accumulators([fn.merge_accumulators(parts[:2]), parts[2]])
    assert fn.extract_output(merged) == fn.extract_output(whole)
    assert all(len(h["records"]) == len(EDGES) + 1 for h in whole.values())
    photos = fn.extract_output(whole)["photos"]
    assert photos["count"] == 7 and photos["records"] == [7]
    assert photos["edges"][0] <= 257 < photos["edges"][1]


def test_the_transform_writes_record_lengths_per_source(tmp_path):
    lengths = {"web": [3, 40, 40, 512, 512, 512], "photos": [257, 260]}
    with beam.Pipeline() as pipeline:
        inputs = tuple(
            pipeline | name >> beam.Create(items)
            for name, items in (("K", kept_docs()), ("R", rejections()), ("D", duplicates()))
        )
        shard_records = pipeline | "Records" >> beam.Create(
            [r for source, n in lengths.items() for r in records(source, n)]
        )
        _ = inputs | RunStatistics(str(tmp_path), records=shard_records)
    stats = json.loads((tmp_path / "stats.json").read_text())["record_positions"]
    assert sorted(stats) == ["photos", "web"]
    web = stats["web"]
    assert (web["count"], web["min"], web["max"], sum(web["records"])) == (6, 3, 512, 6)
    assert web["mean"] == pytest.approx(sum(lengths["web"]) / 6)
    assert len(web["edges"]) == len(web["records"]) + 1
    full = web["records"][-1]
    assert full == 3 and web["edges"][-2] <= 512 <= web["edges"][-1]
