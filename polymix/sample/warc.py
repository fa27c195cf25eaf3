"""A small WARC/WET writer: records as Common Crawl writes them, one gzip member per record.

Used by the sample corpus, the tests and `benchmarks/web.py` to turn HTML into web
archives whose bytes are fixed by their inputs: record ids are uuid5 of the URL and record
kind, dates come from the caller, and gzip members carry no timestamp.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_NAMESPACE = uuid.UUID("6f1c8a52-8f0e-4e0c-9a57-0c7e3b5d2a11")
Headers = Sequence[tuple[str, str]]


def record_id(kind: str, url: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind} {url}')}>"


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_record(warc_type: str, headers: Headers, block: bytes) -> bytes:
    lines = ["WARC/1.0", f"WARC-Type: {warc_type}"] + [f"{k}: {v}" for k, v in headers]
    lines += [f"WARC-Block-Digest: {sha1_digest(block)}", f"Content-Length: {len(block)}"]
    return "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + block + b"\r\n\r\n"


@dataclass(frozen=True)
class Response:
    """One fetched URL: the HTTP status line, headers and body bytes exactly as served."""

    url: str
    body: bytes
    date: str  # WARC-Date, e.g. 2024-02-21T05:33:03Z
    status: int = 200
    reason: str = "OK"
    headers: Headers = field(default_factory=tuple)
    ip: str = "93.184.216.34"
    warc_headers: Headers = ()  # extra WARC headers of the response record (WARC-Truncated, ...)

    def http_block(self) -> bytes:
        head = [f"HTTP/1.1 {self.status} {self.reason}"] + [f"{k}: {v}" for k, v in self.headers]
        return "\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + self.body


def _http_date(warc_date: str) -> str:
    from datetime import datetime

    moment = datetime.strptime(warc_date, "%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def html_headers(
    content_type: str, body: bytes, date: str, extra: Headers = ()
) -> tuple[tuple[str, str], ...]:
    """The headers a typical web server sends with a page."""
    return (
        ("Date", _http_date(date)),
        ("Server", "nginx/1.22.1"),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "keep-alive"),
        ("Vary", "Accept-Encoding"),
        ("Cache-Control", "max-age=600"),
        *extra,
    )


def response_records(response: Response, warcinfo: str) -> list[bytes]:
    """request, response and metadata records for one fetch, as a crawler writes them."""
    host = response.url.split("/")[2]
    path = "/" + response.url.split("/", 3)[3] if response.url.count("/") >= 3 else "/"
    request_block = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: polymix-sample/1.0\r\n"
        "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n\r\n"
    ).encode("latin-1")
    common = [("WARC-Date", response.date), ("WARC-Warcinfo-ID", warcinfo)]
    request_id, response_id = (
        record_id("request", response.url),
        record_id("response", response.url),
    )
    request = warc_record(
        "request",
        [
            ("WARC-Record-ID", request_id),
            *common,
            ("Content-Type", "application/http; msgtype=request"),
        ]
        + [("WARC-Target-URI", response.url)],
        request_block,
    )
    content_type = dict(response.headers).get("Content-Type", "")
    payload_type = content_type.split(";")[0].strip()
    identified = [("WARC-Identified-Payload-Type", payload_type)] if payload_type else []
    reply = warc_record(
        "response",
        [("WARC-Record-ID", response_id), *common]
        + [("Content-Type", "application/http; msgtype=response")]
        + [("WARC-Concurrent-To", request_id), ("WARC-IP-Address", response.ip)]
        + [("WARC-Target-URI", response.url), ("WARC-Payload-Digest", sha1_digest(response.body))]
        + identified
        + list(response.warc_headers),
        response.http_block(),
    )
    metadata = warc_record(
        "metadata",
        [("WARC-Record-ID", record_id("metadata", response.url)), *common]
        + [("Content-Type", "application/warc-fields"), ("WARC-Concurrent-To", response_id)]
        + [("WARC-Target-URI", response.url)],
        b"fetchTimeMs: 112\r\n",
    )
    return [request, reply, metadata]


def warcinfo_record(filename: str, date: str) -> tuple[str, bytes]:
    info = record_id("warcinfo", filename)
    fields = (
        b"isPartOf: polymix-sample\r\npublisher: polymix\r\nformat: WARC File Format 1.0\r\n"
        b"conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/\r\n"
    )
    headers = [("WARC-Date", date), ("WARC-Record-ID", info), ("WARC-Filename", filename)]
    return info, warc_record(
        "warcinfo", headers + [("Content-Type", "application/warc-fields")], fields
    )


def conversion_record(url: str, text: str, date: str, warcinfo: str) -> bytes:
    """A WET record: the page's text as Common Crawl extracts it, pointing at its response."""
    headers = [
        ("WARC-Target-URI", url),
        ("WARC-Date", date),
        ("WARC-Record-ID", record_id("conversion", url)),
        ("WARC-Refers-To", record_id("response", url)),
        ("WARC-Warcinfo-ID", warcinfo),
        ("Content-Type", "text/plain"),
    ]
    return warc_record("conversion", headers, text.encode("utf-8"))


def gzip_members(records: Iterable[bytes]) -> bytes:
    """Each record its own gzip member (what lets a reader seek to one record's offset)."""
    out = io.BytesIO()
    for record in records:
        out.write(gzip.compress(record, compresslevel=6, mtime=0))
    return out.getvalue()


def warc_file(filename: str, responses: Iterable[Response], date: str) -> bytes:
    info, first = warcinfo_record(filename, date)
    records = [first]
    for response in responses:
        records += response_records(response, info)
    return gzip_members(records)


def wet_file(filename: str, pages: Iterable[tuple[str, str, str]], date: str) -> bytes:
    """`pages` as (url, text, date)."""
    info, first = warcinfo_record(filename, date)
    return gzip_members([first, *(conversion_record(u, t, d, info) for u, t, d in pages)])
