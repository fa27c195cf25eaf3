"""The index as the pipeline writes it: complete, split by size, its counts the files' own."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import apache_beam as beam

from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import load_manifest
from polymix.pipelines.grouped_write import WrittenFile
from polymix.pipelines.manifest_writer import (
    RunFacts,
    WriteManifest,
    accounting_warnings,
    source_totals,
)
from tests.support.run_layout import data_root


def _files_under(root: Path, *folders: str) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for folder in folders
        for p in (root / folder).rglob("*")
        if p.is_file()
    }


def test_the_index_lists_every_written_file_exactly_once(demo_run):
    manifest = load_manifest(demo_run)
    shards = [s.path for s in manifest.shards()]
    sides = [f.path for f in manifest.side_files()]
    assert len(shards) == len(set(shards)) and len(sides) == len(set(sides))
    assert set(shards) == _files_under(data_root(demo_run), "shards")
    held = [s.path for s in manifest.eval_shards()]
    assert held and len(held) == len(set(held))
    assert set(held) == _files_under(data_root(demo_run), "eval")
    assert set(sides) == _files_under(data_root(demo_run), "rejected", "duplicates")
    assert {f.path for f in manifest.index} == _files_under(data_root(demo_run), "index")


def test_side_files_carry_the_lines_they_hold_and_agree_with_the_counts(demo_run):
    manifest = load_manifest(demo_run)
    lines: dict[tuple[str, str, str, str], int] = {}
    for entry in manifest.side_files():
        with gzip.open(data_root(demo_run) / entry.path, "rb") as handle:
            on_disk = sum(1 for _ in handle)
        assert entry.lines == on_disk, entry.path
        key = (entry.source, entry.kind, entry.stage, entry.reason)
        lines[key] = lines.get(key, 0) + on_disk
    for name, totals in manifest.sources.items():
        for stage, reasons in totals.rejected.items():
            for reason, n in reasons.items():
                assert lines.pop((name, "rejected", stage, reason)) == n
        for stage, n in totals.duplicates.items():
            assert lines.pop((name, "duplicates", stage, "")) == n
    assert lines == {}  # no side file for a count the manifest lacks
    assert not [w for w in manifest.warnings if w.startswith("accounting")]


def _facts(output: Path) -> RunFacts:
    return RunFacts(
        output=str(output),
        polymix_version="test",
        config_hash="test",
        max_seq_len=64,
        sources={"a": ("text", 1.0), "b": ("image", 1.0)},
        tokenizer=None,
        tokenizer_bytes=None,
        minhash=None,
        warnings=(),
        mixture=MixtureConfig(),
    )


def _written(group: tuple[str, ...], path: str, records: int, kinds=()) -> WrittenFile:
    return WrittenFile(group, path, records, 3 * records, 1000, "0" * 64, kinds)


def test_a_large_index_is_split_by_size_and_read_back_whole(tmp_path):
    shards = [
        _written((s,), f"shards/{s}/{s}-{k:05d}-of-01000.array_record", 2, ((kind, 6),))
        for s, kind in (("a", "text"), ("b", "image"))
        for k in range(1000)
    ]
    rejected = [
        _written(("a", "c4", "lorem_ipsum"), f"rejected/a/c4/lorem_ipsum/part-{k:05d}.jsonl.gz", 5)
        for k in range(300)
    ]
    duplicates = [_written(("b", "exact_dedup"), "duplicates/b/exact_dedup/part-0.jsonl.gz", 7)]
    counts = [
        (("a", "input", "", ""), 2000 + 1500),
        (("a", "kept", "", ""), 2000),
        (("a", "rejected", "c4", "lorem_ipsum"), 1500),
        (("b", "input", "", ""), 2007),
        (("b", "kept", "", ""), 2000),
        (("b", "duplicates", "exact_dedup", ""), 7),
    ]
    target = 16 * 1024
    with beam.Pipeline() as pipeline:
        create = {
            "shards": shards,
            "rejected": rejected,
            "duplicates": duplicates,
            "counts": counts,
        }
        made = {k: pipeline | f"Create{k}" >> beam.Create(v) for k, v in create.items()}
        _ = pipeline | WriteManifest(
            _facts(tmp_path),
            made["shards"],
            made["rejected"],
            made["duplicates"],
            made["counts"],
            index_target_bytes=target,
        )
    manifest = load_manifest(tmp_path)
    for source in ("a", "b"):
        files = manifest.index_files("shards", source)
        lines = sum(len(gzip.decompress((tmp_path / f.path).read_bytes())) for f in files)
        assert len(files) == math.ceil(lines / target) > 10  # many keys, each ~target bytes
        assert sorted(s.path for s in manifest.shards(source)) == sorted(
            s.path for s in shards if s.group == (source,)
        )
    assert [f.lines for f in manifest.side_files("b")] == [7]
    assert sum(f.lines for f in manifest.side_files("a", kind="rejected")) == 1500
    assert manifest.sources["a"].records == 2000 and manifest.sources["b"].tokens == 6000
    assert manifest.sources["b"].positions == {"image": 6000}
    assert manifest.warnings == [] and manifest.shard_count == 2000
    assert "array_record" not in (tmp_path / "manifest.json").read_text()


def test_eval_shards_get_their_own_index_and_totals(tmp_path):
    shards = [_written(("a",), "shards/a/a-00000-of-00001.array_record", 8, (("text", 24),))]
    held = [_written(("a",), "eval/a/a-00000-of-00001.array_record", 2, (("text", 6),))]
    counts = [(("a", "input", "", ""), 5), (("a", "kept", "", ""), 5)]
    with beam.Pipeline() as pipeline:
        made = {
            k: pipeline | f"Create{k}" >> beam.Create(v)
            for k, v in {"shards": shards, "eval": held, "counts": counts, "none": []}.items()
        }
        _ = pipeline | WriteManifest(
            _facts(tmp_path),
            made["shards"],
            made["none"],
            made["none"],
            made["counts"],
            eval_shards=made["eval"],
        )
    manifest = load_manifest(tmp_path)
    assert [s.path for s in manifest.shards()] == [shards[0].path]
    assert [(s.path, s.split) for s in manifest.eval_shards("a")] == [(held[0].path, "eval")]
    totals = manifest.sources["a"]
    assert (totals.records, totals.tokens, totals.positions) == (8, 24, {"text": 24})
    assert (totals.eval_records, totals.eval_tokens, totals.kept) == (2, 6, 5)
    assert manifest.shard_count == 1 and totals.balances()


def test_written_lines_that_differ_from_the_counts_are_a_warning_naming_the_folder(tmp_path):
    counts = [
        (("a", "rejected", "c4", "lorem_ipsum"), 10),
        (("b", "duplicates", "exact_dedup", ""), 3),
    ]
    totals = source_totals(_facts(tmp_path), counts, [])
    written = [
        (("a", "rejected", "c4", "lorem_ipsum"), 9),
        (("b", "duplicates", "exact_dedup", ""), 3),
    ]
    assert accounting_warnings(totals, written) == [
        "accounting: rejected/a/c4/lorem_ipsum holds 9 lines, 10 were counted"
    ]
    assert accounting_warnings(totals, written[1:]) == [
        "accounting: rejected/a/c4/lorem_ipsum holds 0 lines, 10 were counted"
    ]
