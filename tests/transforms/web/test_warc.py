"""The WARC/WET reader on archives our writer makes, checked against warcio's reading of them."""

import gzip
import io

import pytest
from warcio.archiveiterator import ArchiveIterator

from polymix.core.config.web import WebSourceConfig
from polymix.sample.warc import Response, html_headers, response_records, warc_file, wet_file
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file
from polymix.transforms.web.warc import read_warc

DATE = "2024-02-21T05:33:03Z"
ARTICLE = (
    "<html><head><title>Story</title><script>var tracking = 1;</script></head><body>"
    "<nav><a href='/'>Home</a> <a href='/about'>About us</a></nav><article><h1>The bridge</h1>"
    "<p>The council decided on Tuesday to rebuild the old bridge over the river before winter.</p>"
    "<p>Residents said the crossing had served the village for more than a century.</p>"
    "</article><footer>Copyright 2024 Example Media. All rights reserved.</footer></body></html>"
)


def page(url: str, body: bytes | str = ARTICLE, content_type="text/html; charset=utf-8", **kw):
    data = body.encode() if isinstance(body, str) else body
    return Response(url, data, DATE, headers=html_headers(content_type, data, DATE), **kw)


def read(data: bytes, web: WebSourceConfig | None = None) -> list:
    spec = TextSourceSpec("crawl", "text", "warc", web=web)
    name = "c.warc.gz" if data[:2] == b"\x1f\x8b" else "c.warc"
    return list(read_warc(spec, io.BytesIO(data), name, f"crawl/{name}"))


def test_the_writer_makes_archives_warcio_reads_record_by_record():
    data = warc_file("c.warc.gz", [page("https://a.example/1"), page("https://b.example/2")], DATE)
    records = [
        (
            r.rec_type,
            r.rec_headers.get_header("WARC-Target-URI"),
            r.http_headers,
            r.content_stream().read(),
        )
        for r in ArchiveIterator(io.BytesIO(data))
    ]
    assert [r[0] for r in records] == ["warcinfo"] + ["request", "response", "metadata"] * 2
    _, url, http, body = records[2]
    assert url == "https://a.example/1" and http.get_statuscode() == "200"
    assert body == ARTICLE.encode()


def test_only_responses_become_pages_with_ids_and_web_attributes():
    items = read(warc_file("c.warc.gz", [page("https://www.news.example.co.uk/a?b=1")], DATE))
    assert len(items) == 1 and isinstance(items[0], Example)
    example = items[0]
    assert example.id.startswith("urn:uuid:") and "<" not in example.id
    web = example.attributes["web"]
    assert web["url"] == "https://www.news.example.co.uk/a?b=1"
    assert (web["host"], web["domain"]) == ("www.news.example.co.uk", "example.co.uk")
    assert (web["date"], web["record_id"], web["status"]) == (DATE, example.id, 200)
    assert example.original_object() == {
        "file": "crawl/c.warc.gz",
        "offset": example.original_object()["offset"],
        "warc_type": "response",
    }
    assert "The council decided" in example.text and "All rights reserved" not in example.text


def test_a_payload_the_crawler_cut_is_read_and_marked():
    cut = page("https://a.example/long", warc_headers=(("WARC-Truncated", "length"),))
    (item,) = read(warc_file("c", [cut], DATE))
    assert isinstance(item, Example) and item.attributes["web"]["truncated"] == "length"


def test_every_page_that_is_not_one_is_rejected_with_its_reason():
    responses = [
        page("https://a.example/gone", status=404, reason="Not Found"),
        page("https://a.example/moved", status=301, reason="Moved Permanently"),
        page("https://a.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(300), "image/png"),
        page("https://a.example/app", "<html><body><div id=app></div></body></html>"),
        page("https://a.example/huge", ARTICLE + "<!--" + "x" * 5000 + "-->"),
    ]
    web = WebSourceConfig(max_payload_bytes=4000)
    got = [(i.stage, i.reason, i.detail) for i in read(warc_file("c", responses, DATE), web)]
    assert got[:3] == [
        ("read", "http_status", "404"),
        ("read", "http_status", "301"),
        ("read", "content_type", "image/png"),
    ]
    assert got[3] == ("extract", "no_main_text", "")
    assert got[4][:2] == ("read", "record_too_large")


def test_configured_statuses_and_types_are_pages():
    responses = [
        page("https://a.example/x", status=203, reason="Non-Authoritative"),
        page("https://a.example/t", "plain words", "text/plain"),
    ]
    web = WebSourceConfig(http_statuses=[200, 203], content_types=["text/html"])
    items = read(warc_file("c", responses, DATE), web)
    assert isinstance(items[0], Example)
    assert (items[1].reason, items[1].detail) == ("content_type", "text/plain")


def test_a_page_without_content_type_is_html_when_it_says_so():
    body = ARTICLE.encode()
    bare = Response(
        "https://a.example/bare", body, DATE, headers=(("Content-Length", str(len(body))),)
    )
    items = read(warc_file("c", [bare], DATE))
    assert (
        isinstance(items[0], Example) and items[0].attributes["web"]["content_type"] == "text/html"
    )


def test_chunked_and_gzipped_payloads_are_decoded():
    zipped = gzip.compress(ARTICLE.encode(), mtime=0)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(zipped), zipped)
    headers = (
        ("Content-Type", "text/html; charset=utf-8"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "gzip"),
    )
    items = read(
        warc_file("c", [Response("https://a.example/z", chunked, DATE, headers=headers)], DATE)
    )
    assert isinstance(items[0], Example) and "rebuild the old bridge" in items[0].text


def test_wet_conversion_records_are_pages_of_text_pointing_at_their_response():
    data = wet_file(
        "c.wet.gz", [("https://a.example/t", "Plain text of the page.\nSecond line.", DATE)], DATE
    )
    (item,) = read(data)
    assert item.text == "Plain text of the page.\nSecond line."
    assert item.original_object()["warc_type"] == "conversion"
    assert item.attributes["web"]["refers_to"].startswith("urn:uuid:")


def test_a_truncated_archive_never_yields_part_of_a_page():
    responses = [page(f"https://a.example/{i}") for i in range(4)]
    data = warc_file("c", responses, DATE)
    last = read(data)[-1].original_object()[
        "offset"
    ]  # where the last response's gzip member starts
    member = len(gzip.compress(response_records(responses[-1], "<x>")[1], 6, mtime=0))
    for cut in range(last + 1, last + member, 41):
        items = read(data[:cut])
        pages = [i for i in items if isinstance(i, Example)]
        assert all("Residents said the crossing" in p.text for p in pages), cut
        assert len(pages) == 3 and all(isinstance(i, Rejection) for i in items[3:]), cut
        assert items[-1].reason == "unreadable_file", cut  # what was lost is accounted for


def test_a_corrupt_record_is_rejected_by_its_digest():
    plain = gzip.decompress(
        warc_file("c", [page("https://a.example/1"), page("https://a.example/2")], DATE)
    )
    corrupt = plain.replace(b"rebuild the old bridge", b"rebuild the old BRIDGE", 1)
    items = read(corrupt)
    assert (items[0].reason, isinstance(items[1], Example)) == ("bad_digest", True)
    unchecked = read(corrupt, WebSourceConfig(verify_digests=False))
    assert "BRIDGE" in unchecked[0].text


def test_an_archive_without_pages_and_a_file_that_is_not_one_are_rejected():
    empty = warc_file("c", [], DATE)  # only its warcinfo record
    assert [i.reason for i in read(empty)] == ["empty_file"]
    assert [i.reason for i in read(b"this is not a web archive\n")] == ["unreadable_file"]
    assert [i.reason for i in read(b"\x1f\x8b not gzip after all")] == ["unreadable_file"]


def test_an_extractor_that_raises_rejects_only_that_page(monkeypatch):
    from polymix.transforms.web import warc

    def broken(settings):
        def run(html):
            if "boom" in html:
                raise RecursionError("tree too deep")
            return "fine text"

        return run

    monkeypatch.setattr(warc, "_extractor", broken)
    responses = [page("https://a.example/1", "<html>boom</html>"), page("https://a.example/2")]
    items = read(warc_file("c", responses, DATE))
    assert (items[0].stage, items[0].reason) == ("extract", "error:RecursionError")
    assert "tree too deep" in items[0].detail
    assert isinstance(items[1], Example)


def test_the_registry_reads_warc_sources_like_any_other_format():
    data = warc_file("c", [page("https://a.example/1")], DATE)
    spec = TextSourceSpec("crawl", "text", "warc", web=WebSourceConfig(extractor="resiliparse"))
    (item,) = read_text_file(spec, lambda: io.BytesIO(data), "/abs/c.warc.gz", "c.warc.gz")
    assert isinstance(item, Example) and "rebuild the old bridge" in item.text


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
def test_both_extractors_drop_navigation_scripts_and_footer(extractor):
    (item,) = read(
        warc_file("c", [page("https://a.example/1")], DATE), WebSourceConfig(extractor=extractor)
    )
    assert "Residents said the crossing" in item.text
    for junk in ("Home", "About us", "tracking", "All rights reserved"):
        assert junk not in item.text, (extractor, junk)
