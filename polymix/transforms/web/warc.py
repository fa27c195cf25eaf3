"""WARC and WET files to documents: fastwarc reads the records, each page becomes one Example.

A page is a `response` record (WARC) or a `conversion` record (WET, text already extracted);
request, metadata, warcinfo and revisit records are bookkeeping of the crawl, not documents,
and are skipped like blank lines in JSONL. Every page ends as an `Example` or a `Rejection`:

    read/http_status      the HTTP status is not in `web.http_statuses` (detail: the status)
    read/content_type     the payload is not HTML (detail: the type)
    read/record_too_large the payload exceeds `web.max_payload_bytes` (left unread)
    read/bad_digest       the record's WARC-Block-Digest does not match: truncated or corrupt
    read/missing_url      no WARC-Target-URI
    extract/no_main_text  the extractor found no main text
    extract/error:<Type>  the extractor raised (traceback in the detail)

A page's id is its WARC-Record-ID (`urn:uuid:...`, unique per crawl and the same on every
machine); its `original` is where to find the record again (file relative to the config,
byte offset), never the HTML, so rejected/ stays small; its attributes under `web` are the
URL, host, registered domain, crawl date, record id, HTTP status, content type and charset
(and `truncated` when the crawler cut the payload, as Common Crawl does at 1 MiB).
"""

from __future__ import annotations

import functools
import io
import traceback
import zlib
from collections.abc import Iterator
from typing import IO, Any

from polymix.core.config.web import WebSourceConfig
from polymix.transforms.example import Example, Rejection
from polymix.transforms.web.charset import decode_page
from polymix.transforms.web.extract import Extract, make_extractor
from polymix.transforms.web.urls import host_of, registered_domain

READ, EXTRACT = "read", "extract"
SNIFF_BYTES = 1024


@functools.lru_cache(maxsize=8)
def _extractor(settings_json: str) -> Extract:
    return make_extractor(WebSourceConfig.model_validate_json(settings_json))


def _header(record: Any, name: str) -> str | None:
    value = record.headers.get(name)
    return value.strip() if value else None


def _mime(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() or None if content_type else None


def sniff_html(payload_start: bytes) -> bool:
    """A payload without a Content-Type is HTML when its first kilobyte says so."""
    head = payload_start[:SNIFF_BYTES].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


class _Page:
    """One record on its way to an Example: what is known so far goes into every outcome."""

    def __init__(self, spec: Any, record: Any, file_id: str, offset: int) -> None:
        self.spec = spec
        record_id = (_header(record, "WARC-Record-ID") or "").strip("<>")
        self.id = record_id or f"{file_id}@{offset}"
        self.url = _header(record, "WARC-Target-URI")
        host = host_of(self.url) if self.url else None
        self.web: dict[str, Any] = {"record_id": record_id, "url": self.url}
        self.web.update(host=host, domain=registered_domain(host) if host else None)
        self.web["date"] = _header(record, "WARC-Date")
        truncated = _header(record, "WARC-Truncated")  # the crawler cut the payload (length, time)
        if truncated:
            self.web["truncated"] = truncated
        refers_to = _header(record, "WARC-Refers-To")
        if refers_to:
            self.web["refers_to"] = refers_to.strip("<>")
        self.original = {"file": file_id, "offset": offset, "warc_type": str(record.record_type)}

    def example(self, text: str | None = None) -> Example:
        web = {key: value for key, value in self.web.items() if value is not None}
        return Example(
            self.spec.name,
            self.id,
            self.spec.modality,
            text=text,
            original=dict(self.original),
            attributes={"web": web},
        )

    def reject(self, stage: str, reason: str, detail: str = "") -> Rejection:
        return Rejection(self.example(), stage, reason, detail)


def _http_payload(page: _Page, record: Any, web: WebSourceConfig) -> bytes | Rejection:
    status = record.http_headers.status_code if record.is_http else None
    page.web["status"] = status
    if status not in web.http_statuses:
        return page.reject(READ, "http_status", str(status))
    mime = _mime(record.http_content_type) or _mime(_header(record, "WARC-Identified-Payload-Type"))
    payload = record.reader.read()
    if mime is None and sniff_html(payload):
        mime = "text/html"
    page.web["content_type"] = mime
    if mime not in web.content_types:
        return page.reject(READ, "content_type", str(mime))
    return payload


def _page_outcome(page: _Page, record: Any, web: WebSourceConfig) -> Example | Rejection:
    if not page.url:
        return page.reject(READ, "missing_url")
    if record.content_length > web.max_payload_bytes:
        page.web["payload_bytes"] = record.content_length
        return page.reject(READ, "record_too_large", str(record.content_length))
    checked = web.verify_digests and record.headers.get("WARC-Block-Digest")
    if checked and not record.verify_block_digest(consume=False):
        return page.reject(READ, "bad_digest", "WARC-Block-Digest does not match the block")
    converted = str(record.record_type) == "conversion"
    if not converted:
        record.parse_http(auto_decode="all")
    payload = record.reader.read() if converted else _http_payload(page, record, web)
    if isinstance(payload, Rejection):
        return payload
    page.web["payload_bytes"] = len(payload)
    charset = record.http_charset if not converted else None
    decoded = decode_page(payload, charset)
    page.web.update(charset=decoded.charset, charset_from=decoded.found_by)
    if converted:
        text = decoded.text
    else:
        try:
            text = _extractor(web.model_dump_json())(decoded.text)
        except Exception as exc:  # a page the extractor cannot handle rejects that page only
            return page.reject(EXTRACT, f"error:{type(exc).__name__}", traceback.format_exc())
    if len(text.strip()) < web.min_text_chars:
        return page.reject(EXTRACT, "no_main_text")
    return page.example(text)


def _file_rejection(spec: Any, file_id: str, reason: str, detail: str) -> Rejection:
    example = Example(spec.name, f"{file_id}:file", spec.modality, original={"file": file_id})
    return Rejection(example, READ, reason, detail)


class _CheckedGzip(io.RawIOBase):
    """The raw bytes for fastwarc, inflated once more on the side to find a cut-off archive.

    fastwarc decompresses natively (fast, and its offsets are those of the compressed file,
    where a record can be found again) but ends quietly at a truncated gzip member. Feeding
    the same bytes through zlib costs a fraction of extraction and says whether the last
    member was whole, so what a cut removed is accounted for instead of vanishing.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._position = 0
        self._inflate = zlib.decompressobj(wbits=31)
        self._fed = False
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (whence == io.SEEK_CUR and offset == 0) or (whence, offset) == (0, self._position):
            return self._position
        raise io.UnsupportedOperation("the archive is read front to back")

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        self._check(data)
        return len(data)

    def _check(self, data: bytes) -> None:
        while data and self.error is None:
            try:
                self._inflate.decompress(data, 2**20)  # the output is dropped: bounded memory
            except zlib.error as exc:
                self.error = f"not valid gzip: {exc}"
                return
            self._fed = True
            if self._inflate.eof:  # the next member starts in what is left
                data = self._inflate.unused_data
                self._inflate, self._fed = zlib.decompressobj(wbits=31), False
            else:
                data = self._inflate.unconsumed_tail

    def problem(self) -> str | None:
        """Why the archive is not whole, after it was read to its end; None if it is."""
        while self.readinto(bytearray(2**16)):
            pass
        if self.error is None and self._fed:
            self.error = "the last gzip member is cut short (truncated file)"
        return self.error


def read_warc(spec: Any, raw: IO[bytes], path: str, file_id: str) -> Iterator[Example | Rejection]:
    """Every page of one WARC/WET file (gzip, zstd or plain: fastwarc detects the others)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    web: WebSourceConfig = getattr(spec, "web", None) or WebSourceConfig()
    wanted = WarcRecordType.response | WarcRecordType.conversion
    stream = _CheckedGzip(raw) if path.endswith(".gz") else raw
    pages = 0
    try:
        # HTTP is parsed after the digest check, which needs the block as stored.
        records = ArchiveIterator(stream, record_types=wanted, parse_http=False)
        for record in records:
            pages += 1
            page = _Page(spec, record, file_id, record.stream_pos)
            try:
                yield _page_outcome(page, record, web)
            except Exception as exc:  # one bad record rejects that record, never the file
                yield page.reject(READ, f"error:{type(exc).__name__}", traceback.format_exc())
    except BaseException as exc:  # a corrupt archive (fastwarc panics are BaseExceptions)
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        yield _file_rejection(spec, file_id, "unreadable_file", f"after page {pages}: {exc}")
        return
    cut = stream.problem() if isinstance(stream, _CheckedGzip) else None
    if cut is not None:
        yield _file_rejection(spec, file_id, "unreadable_file", f"after page {pages}: {cut}")
    elif pages == 0:
        yield _file_rejection(spec, file_id, "empty_file", "no response or conversion records")
