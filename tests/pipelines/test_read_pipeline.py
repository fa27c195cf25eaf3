"""Read-side guarantees through the whole pipeline: encodable, unique, location-free outputs."""

from __future__ import annotations

import filecmp
import gzip
import json
import random
import shutil
from pathlib import Path

import pytest
import yaml

from polymix.cli import main
from polymix.core.manifest import load_manifest
from polymix.sample import web_text
from polymix.sample.generate import near_copy
from tests.pipelines.conftest import run_pipeline
from tests.support.run_layout import data_root


def _write_config(folder: Path, sources: list[dict], tokenizer: str = "spm.model") -> Path:
    config = {"sources": sources, "tokenizer": {"model": tokenizer, "vocab_size": 800}}
    path = folder / "polymix.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _side_rows(output: Path) -> list[dict]:
    rows = []
    root = data_root(output)
    paths = [*root.glob("rejected/**/*.jsonl.gz"), *root.glob("duplicates/**/*.jsonl.gz")]
    for path in sorted(paths):
        with gzip.open(path, "rb") as handle:
            rows += [json.loads(line.decode("utf-8")) for line in handle]
    return rows


@pytest.fixture(scope="module")
def unencodable_run(tmp_path_factory):
    """Lone surrogates in every field, deep metadata, and an id shared by unrelated pages."""
    root = tmp_path_factory.mktemp("unencodable")
    pages = web_text.make_documents("clean", 12, seed=11)
    near = near_copy(random.Random(1), pages[0], 0.01, 0)
    deep = "[" * 399 + "]" * 399  # inside the object: read.max_nesting_depth, the most allowed
    lines = [json.dumps({"id": f"page-{i}", "text": t}) for i, t in enumerate(pages)]
    lines += [
        '{"id": "sur-text", "text": "' + pages[1][:200] + ' \\ud800"}',
        '{"id": "\\udc80\\udc81", "text": "an id made of escaped bytes"}',
        '{"id": "sur-meta", "text": '
        + json.dumps(pages[2] + " again")
        + ', "t\\ud800": "\\udfff"}',
        '{"id": "deep", "text": ' + json.dumps(pages[3] + " deep") + ', "meta": ' + deep + "}",
        '{"id": "deeper", "text": "x", "meta": ' + "[" * 700 + "]" * 700 + "}",
        json.dumps({"id": "shared", "text": "An unrelated page about something else. " * 20}),
        json.dumps({"id": "shared", "text": near}),  # a near copy of page-0 under the same id
    ]
    (root / "web").mkdir()
    (root / "web" / "pages.jsonl").write_text("\n".join(lines) + "\n")
    (root / "clean").mkdir()
    (root / "clean" / "pages.jsonl").write_text("\n".join(lines[: len(pages)]) + "\n")
    source = {"name": "web", "modality": "text", "format": "jsonl", "id_field": "id"}
    clean = _write_config(root / "clean", [{**source, "paths": ["pages.jsonl"]}], "../spm.model")
    assert main(["tokenizer", "train", str(clean), "--allow-smaller"]) == 0
    config = _write_config(root, [{**source, "paths": ["web/*.jsonl"]}])
    run_pipeline(config, root / "out")
    return root / "out", len(lines), near


def test_unencodable_text_and_ids_are_rejected_at_read_and_the_run_completes(unencodable_run):
    output, lines, _ = unencodable_run
    totals = load_manifest(output / "manifest.json").sources["web"]
    assert totals.input == lines
    assert totals.rejected["read"] == {
        "invalid_unicode": 2,
        "duplicate_id": 1,
        "nesting_too_deep": 1,
    }
    rows = _side_rows(output)
    meta = [r for r in rows if r["id"] == "sur-meta"]
    assert meta and all(r["original"] == {"id": "sur-meta", "t\ud800": "\udfff"} for r in meta)


def test_metadata_hundreds_of_levels_deep_crosses_every_shuffle(unencodable_run):
    output, _, _ = unencodable_run
    rows = _side_rows(output)
    (copy,) = [r for r in rows if r["id"] == "page-3"]
    assert copy["duplicate_of"] == "deep"  # the 400-deep page went all the way through dedup
    (deeper,) = [r for r in rows if r.get("reason") == "nesting_too_deep"]
    assert deeper["original"]["raw"].startswith('{"id": "deeper"')  # refused before parsing


def test_a_page_that_shares_an_id_with_a_near_copy_is_not_removed_as_its_duplicate(
    unencodable_run,
):
    output, _, near_text = unencodable_run
    rows = _side_rows(output)
    near = [r for r in rows if r["stage"] == "near_dedup"]
    assert all(r["similarity"] > 0.5 for r in near)
    (refused,) = [r for r in rows if r.get("reason") == "duplicate_id"]
    assert refused["id"] == "shared" and refused["text"] == near_text  # the copy read second


def _corpus(folder: Path) -> Path:
    """Data under `folder/data`, with default ids and some rejections."""
    web = folder / "data" / "web"
    (web / "older").mkdir(parents=True)
    pages = web_text.make_documents("clean", 10, seed=21)
    (web / "a.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in pages[:5]) + "\n{bad\n")
    rows = [json.dumps({"text": t, "url": "u"}) for t in pages[5:]] + [json.dumps({"body": 1})]
    (web / "older" / "b.jsonl.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    (web / "older" / "c.jsonl.gz").write_bytes(b"not gzip")
    return folder / "data"


@pytest.fixture(scope="module")
def moved_runs(tmp_path_factory):
    """One corpus read from two places, the config elsewhere naming it by absolute path."""
    first = tmp_path_factory.mktemp("here")
    data = _corpus(first)
    second = tmp_path_factory.mktemp("there") / "deeper" / "still"
    second.mkdir(parents=True)
    shutil.copytree(data, second / "data")
    outputs = []
    for place in (first, second):
        conf = place / "conf"
        conf.mkdir()
        patterns = [f"{place}/data/web/*.jsonl", f"{place}/data/web/older/*.jsonl.gz"]
        source = {"name": "web", "modality": "text", "paths": patterns, "format": "jsonl"}
        config = _write_config(conf, [source], tokenizer=str(first / "spm.model"))
        if place is first:
            assert main(["tokenizer", "train", str(config), "--allow-smaller"]) == 0
        run_pipeline(config, place / "out")
        outputs.append(place / "out")
    return first, second, outputs


@pytest.mark.slow  # two runs
def test_shards_and_side_files_do_not_depend_on_where_the_corpus_lies(moved_runs):
    first, second, (out_a, out_b) = moved_runs
    files = sorted(
        p.relative_to(out_a)
        for p in out_a.rglob("*")
        if p.is_file() and p.parts[len(out_a.parts)] in ("shards", "rejected", "duplicates")
    )
    assert any(p.parts[0] == "rejected" for p in files) and any(
        p.parts[0] == "shards" for p in files
    )
    assert (
        sorted(
            p.relative_to(out_b)
            for p in out_b.rglob("*")
            if p.is_file() and p.parts[len(out_b.parts)] in ("shards", "rejected", "duplicates")
        )
        == files
    )
    assert filecmp.cmpfiles(out_a, out_b, [str(p) for p in files], shallow=False)[1] == []
    for row in _side_rows(out_a):
        assert str(first) not in json.dumps(row) and row["id"].startswith(("a.jsonl", "older/"))
