"""The reader and the extractors on real HTML: Debian's documentation sites, served as a crawl.

The archive (`benchmarks/real_web.py`) is built once from Debian's packages and cached outside
the repository; without Debian's archive these tests are skipped.
"""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path

import pytest

from polymix.core.config.web import TrafilaturaConfig, WebSourceConfig
from polymix.transforms.example import Example
from polymix.transforms.read_text import TextSourceSpec
from polymix.transforms.web.warc import read_warc

PYTHON_DOCS_CHROME = ("Quick search", "Previous topic", "Report a Bug", "Show Source", "Navigation")


@pytest.fixture(scope="module")
def archive() -> tuple[bytes, dict[str, dict]]:
    real_web = pytest.importorskip("benchmarks.real_web")
    try:
        path = real_web.build()
    except Exception as exc:  # noqa: BLE001  (no apt, no network: nothing to test on)
        pytest.skip(f"Debian's packages cannot be fetched here: {exc}")
    pages = {row["url"]: row for row in real_web.pages()}
    return Path(path).read_bytes(), pages


@pytest.fixture(scope="module")
def read_pages(archive) -> list:
    """Every record through the reader, with resiliparse (fast) as the extractor."""
    return _read(archive[0], WebSourceConfig(extractor="resiliparse"))


def _read(data: bytes, web: WebSourceConfig) -> list:
    spec = TextSourceSpec("debian", "text", "warc", web=web)
    return list(read_warc(spec, io.BytesIO(data), "debian-html.warc.gz", "debian-html.warc.gz"))


def test_every_page_is_decoded_in_the_charset_it_was_served_in(archive, read_pages):
    _, pages = archive
    items = read_pages
    assert len(items) == len(pages) > 400 and all(isinstance(i, Example) for i in items)
    for item in items:
        web = item.attributes["web"]
        served = pages[web["url"]]
        if served["declared"] == "none":
            assert web["charset_from"] in ("utf-8", "detected"), web["url"]
        else:  # decoded strictly (a page may hold U+FFFD itself: the handbook explains them)
            assert web["charset_from"] in ("http", "meta"), web["url"]
            assert codecs.lookup(web["charset"]).name == codecs.lookup(served["codec"]).name
        assert not any("\x80" <= ch <= "\x9f" for ch in item.text), web["url"]
    languages = {pages[i.attributes["web"]["url"]]["language"] for i in items}
    assert {"ja-JP", "ru-RU", "zh-CN", "el-GR"} <= languages


def test_main_text_without_the_sites_chrome_and_as_datatroves_trafilatura_gives(
    archive, read_pages
):
    extractors = pytest.importorskip("datatrove.pipeline.extractors")
    from datatrove.data import Document

    from polymix.transforms.web.extract import make_extractor

    data, pages = archive
    located = {
        i.attributes["web"]["url"]: i for i in _read(data, WebSourceConfig(extractor="resiliparse"))
    }
    chosen = sorted(pages)[::20]  # ~24 pages of every site
    html = {url: _payload_html(data, located[url]) for url in chosen}
    extract = make_extractor(WebSourceConfig(trafilatura=TrafilaturaConfig(deduplicate=False)))
    ours = {url: extract(markup) for url, markup in html.items()}
    ours = {url: text for url, text in ours.items() if text}
    assert len(ours) >= len(chosen) - 2
    for url, text in ours.items():
        if "docs.python.org" in url:
            assert not any(chrome in text for chrome in PYTHON_DOCS_CHROME), url
    theirs = extractors.Trafilatura(favour_precision=True, deduplicate=False, timeout=60)
    documents = [Document(text=markup, id=url) for url, markup in html.items()]
    assert ours == {doc.id: doc.text for doc in theirs.run(iter(documents))}


def _payload_html(data: bytes, example: Example) -> str:
    """The page's HTML as polymix decoded it, read again from the record's offset."""
    from fastwarc.warc import ArchiveIterator

    from polymix.transforms.web.charset import decode_page

    stream = io.BytesIO(data)
    stream.seek(example.original_object()["offset"])
    record = next(iter(ArchiveIterator(stream, parse_http=True, auto_decode="all")))
    return decode_page(record.reader.read(), record.http_charset).text


@pytest.mark.slow
def test_the_benchmarks_claims_hold_on_the_whole_archive(archive):
    """`benchmarks/web.py`: >= 99% the same main text from the same HTML, >= 97% end to end."""
    pytest.importorskip("datatrove.pipeline.readers")
    from benchmarks.real_web import build
    from benchmarks.web import compare

    result = compare(build())
    assert result["extraction_agreement"] >= 0.99
    assert result["agreement"] >= 0.97
    print(json.dumps(result))
