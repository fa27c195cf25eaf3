"""The demo crawl (a generated WARC and WET) through the whole pipeline, from the shared demo run."""

import gzip
import json
from pathlib import Path

import sentencepiece as spm
from array_record.python.array_record_module import ArrayRecordReader
from fastwarc.warc import ArchiveIterator

from polymix.core.manifest import load_manifest
from polymix.core.record_codec import decode
from polymix.sample import web_archive
from polymix.transforms.decontaminate import words
from tests.support.run_layout import data_root

BOILERPLATE = ("uses cookies", "Accept all", "Related articles", "All rights reserved", "gtag")


def _rejected(run: Path, source: str) -> list[dict]:
    rows = []
    for path in sorted((data_root(run) / "rejected" / source).rglob("*.jsonl.gz")):
        with gzip.open(path, "rt") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


def _kept_texts(run: Path, source: str) -> dict[str, str]:
    manifest = load_manifest(run / "manifest.json")
    tokenizer = spm.SentencePieceProcessor(model_file=str(data_root(run) / manifest.tokenizer.path))
    texts: dict[str, str] = {}
    for shard in manifest.shards(source):
        reader = ArrayRecordReader(str(data_root(run) / shard.path))
        for record in map(decode, reader.read_all()):
            page = record.fields["id"].split("#")[0]
            texts[page] = texts.get(page, "") + tokenizer.decode(record["tokens"].tolist())
        reader.close()
    return texts


def _urls() -> dict[str, str]:
    """Page id -> URL: ids are uuid5 of the URL, and the demo's URLs do not depend on the seed."""
    crawl = web_archive.build_crawl(seed=0)
    urls = {web_archive.page_id(r.url): r.url for r in crawl.responses}
    return urls | {web_archive.page_id(u, "conversion"): u for u, _, _ in crawl.wet_pages}


def test_web_pages_balance_and_blocked_domains_are_counted(demo_run, sample_corpus):
    _, expected = sample_corpus
    totals = load_manifest(demo_run / "manifest.json").sources["webarc"]
    assert totals.input == expected["input"]["webarc"] > 30
    assert totals.input == totals.kept + totals.duplicates_total + totals.rejected_total
    assert totals.rejected["url_filter"] == {"domain": 4, "url_substring": 2}
    assert totals.rejected["read"] == {"content_type": 2, "http_status": 3}
    assert totals.duplicates["exact_dedup"] == 2  # the mirrored articles
    assert totals.kept > 15


def test_kept_pages_are_the_articles_without_their_boilerplate(demo_run):
    texts = _kept_texts(demo_run, "webarc")
    urls = _urls()
    warc_pages = {i: t for i, t in texts.items() if "/story/" in urls[i]}
    assert len(warc_pages) >= 10
    for page, text in warc_pages.items():
        assert not any(phrase in text for phrase in BOILERPLATE), (page, text[:300])
        assert len(text.split()) > 40, page


def test_rejected_pages_keep_their_url_attributes_and_where_the_record_is(demo_run, sample_corpus):
    config, _ = sample_corpus
    rows = _rejected(demo_run, "webarc")
    urls = _urls()
    for row in rows:
        web = row["attributes"]["web"]
        assert web["url"] == urls[row["id"]] and web["record_id"] == row["id"]
        assert web["date"] == web_archive.CRAWL_DATE and web["domain"] in web["host"]
        relative = row["original"]["file"]
        assert not Path(relative).is_absolute()  # the same line from any folder
        with open(config.parent / "webarc" / relative, "rb") as handle:  # ids from its root
            handle.seek(row["original"]["offset"])
            record = next(iter(ArchiveIterator(handle, parse_http=False)))
            assert record.headers["WARC-Record-ID"] == f"<{row['id']}>"
    blocked = [r for r in rows if r["stage"] == "url_filter"]
    assert {r["detail"] for r in blocked} == {
        *web_archive.BLOCKED_DOMAINS,
        *web_archive.BLOCKED_SUBSTRINGS,
    }


def test_pages_quoting_the_eval_set_are_removed_with_the_ngram(demo_run, sample_corpus):
    _, expected = sample_corpus
    rows = [r for r in _rejected(demo_run, "webarc") if r["stage"] == "decontaminate"]
    assert sorted(r["id"] for r in rows) == expected["contaminated_planted"]["webarc"]
    eval_words = [" ".join(words(v)) for item in web_archive.EVAL_SET for v in item.values()]
    for row in rows:
        assert row["reason"] == web_archive.EVAL_NAME
        ngram = row["attributes"]["decontaminate"]["ngram"]
        assert len(ngram.split()) == 13 and row["detail"] == f"{web_archive.EVAL_NAME}: {ngram}"
        assert any(ngram in text for text in eval_words)
        assert ngram in " ".join(words(row["text"]))


def test_top_domains_reach_the_stats_and_the_report(demo_run):
    stats = json.loads((data_root(demo_run) / "stats.json").read_text())
    summary = stats["domains"]["webarc"]
    top = {d["domain"]: d for d in summary["top"]}
    assert top["casino-royale-bonus.example"] == {
        "domain": "casino-royale-bonus.example",
        "pages": 2,
        "kept": 0,
        "blocked": 2,
    }
    assert summary["domains"] == len(summary["top"])  # fewer domains than the top 50
    assert sum(d["blocked"] for d in summary["top"]) == 6
    pages = [d["pages"] for d in summary["top"]]
    assert pages == sorted(pages, reverse=True)
    assert sum(pages) == load_manifest(demo_run / "manifest.json").sources["webarc"].input
    html = (demo_run / "report" / "index.html").read_text()
    assert "Top domains" in html and "casino-royale-bonus.example" in html
