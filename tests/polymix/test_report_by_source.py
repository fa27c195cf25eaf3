"""Attribute histograms per source: counted where the data is, merged exactly, drawn with the cut."""

from __future__ import annotations

import json

from polymix.pipelines.statistics import _RunStatsFn, assemble_stats
from polymix.report import render_report
from tests.polymix.test_report import SOURCES, _stats

CUTS = {"gopher_quality.n_words": [{"key": "min_words", "value": 50.0, "keep": "above"}]}


def _observations() -> list[tuple]:
    """Short `books` documents, long `web` ones: the same cut bites into one source only."""
    items = []
    for i in range(30):
        items.append(("kept", "web", None, {"gopher_quality": {"n_words": 100 + 7 * i}}))
    for i in range(12):
        bucket, stage = ("rejected", "gopher_quality") if i % 3 == 0 else ("kept", None)
        items.append((bucket, "books", stage, {"gopher_quality": {"n_words": 5 + i}}))
    return items


def _combined(parts: int) -> dict:
    fn = _RunStatsFn()
    accumulators = []
    items = _observations()
    for k in range(parts):
        acc = fn.create_accumulator()
        for item in items[k::parts]:
            fn.add_input(acc, item)
        accumulators.append(acc)
    return assemble_stats(fn.merge_accumulators(accumulators), {}, CUTS, ["gopher_quality"])


def test_each_source_holds_its_own_documents_and_partials_merge_exactly():
    stats = _combined(parts=3)
    web = stats["attributes_by_source"]["web"]["gopher_quality.n_words"]
    books = stats["attributes_by_source"]["books"]["gopher_quality.n_words"]
    assert (web["count"], web["min"], web["max"]) == (30, 100, 303)
    assert (books["count"], books["min"], books["max"]) == (12, 5, 16)
    assert sum(books["rejected"]) == 4 and sum(web["rejected"]) == 0
    total = stats["attributes"]["gopher_quality.n_words"]
    assert total["count"] == web["count"] + books["count"]
    assert stats == _combined(parts=1)


def test_the_report_draws_an_attribute_with_a_cut_by_source(tmp_path):
    stats = _stats()
    stats.update({k: v for k, v in _combined(parts=2).items() if k == "attributes_by_source"})
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    from polymix.core.manifest import Manifest

    manifest = Manifest(
        polymix_version="0.1.0", config_hash="ab" * 32, max_seq_len=512, sources=SOURCES
    )
    (tmp_path / "manifest.json").write_text(manifest.to_json())
    rendered = render_report(tmp_path)
    names = {p.name for p in rendered.pngs}
    assert "attr_by_source.gopher_quality.n_words.png" in names
    page = rendered.html.read_text()
    assert "The same attributes by source" in page and "books 12, web 30" in page
    # language.score is carried by one source only: no per-source chart for it.
    assert "attr_by_source.language.score.png" not in names
