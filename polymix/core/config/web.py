"""Web archives: how WARC/WET records become documents, and which URLs are blocked.

`sources[].web` says which records of a `format: warc` source are pages (HTTP status,
content type, size) and how their HTML becomes text (trafilatura as FineWeb does, or
resiliparse, each with its options). `url_filter` is the block list FineWeb and
RefinedWeb apply to every page with a URL, web archives and JSONL/Parquet alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polymix.core.config.base import Section


class TrafilaturaConfig(Section):
    favor_precision: bool = Field(
        True, description="Prefer less text but correct extraction (FineWeb: true)."
    )
    favor_recall: bool = Field(False, description="When unsure, keep more text.")
    include_comments: bool = Field(
        False, description="Keep the comment section below an article (FineWeb: false)."
    )
    include_tables: bool = Field(True, description="Keep the text of <table> elements.")
    include_links: bool = Field(False, description="Keep link targets in the text.")
    include_formatting: bool = Field(False, description="Keep bold/italic/heading markup.")
    fast: bool = Field(False, description="Skip trafilatura's fallback extractors (faster).")
    deduplicate: bool = Field(
        True,
        description="Drop text blocks that repeat within the page. Unlike DataTrove's default, "
        "never across pages: a cache shared by every page a worker saw would make the text "
        "depend on the order and number of workers.",
    )
    max_tree_size: int | None = Field(
        None, description="Refuse pages whose HTML tree has more elements (empty: no limit)."
    )


class ResiliparseConfig(Section):
    main_content: bool = Field(True, description="Keep only the main content (no menus, footers).")
    preserve_formatting: bool = Field(True, description="Keep paragraphs and line breaks.")
    list_bullets: bool = Field(True, description="Write bullets before list items.")
    alt_texts: bool = Field(False, description="Keep images' alternative texts.")
    links: bool = Field(False, description="Keep link targets.")
    form_fields: bool = Field(False, description="Keep form fields and their values.")
    noscript: bool = Field(False, description="Keep the content of <noscript> elements.")
    comments: bool = Field(False, description="Keep comment sections.")


class WebSourceConfig(Section):
    extractor: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura", description="HTML to main text: trafilatura (FineWeb) or resiliparse."
    )
    trafilatura: TrafilaturaConfig = Field(
        default_factory=TrafilaturaConfig, description="trafilatura.extract options."
    )
    resiliparse: ResiliparseConfig = Field(
        default_factory=ResiliparseConfig, description="resiliparse extract_plain_text options."
    )
    http_statuses: list[int] = Field(
        [200], description="HTTP statuses whose responses are pages; others are rejected."
    )
    content_types: list[str] = Field(
        ["text/html", "application/xhtml+xml"],
        description="HTTP Content-Types read as HTML; others are rejected (WET text is text).",
    )
    max_payload_bytes: int = Field(
        4 * 2**20,
        gt=0,
        description="Reject a record whose payload is larger, unread (Common Crawl cuts at 1 MiB).",
    )
    verify_digests: bool = Field(
        True,
        description="Reject a record whose WARC-Block-Digest does not match (truncated or "
        "corrupt); records without a digest are read as they are.",
    )
    min_text_chars: int = Field(
        1, ge=1, description="Reject a page whose extracted text is shorter (no_main_text)."
    )


class UrlFilterConfig(Section):
    blocked_domains: list[str] = Field(
        [],
        description="Files of blocked domains, one per line ('#' comments); a domain blocks "
        "its subdomains too (UT1's lists, as FineWeb and RefinedWeb use, work as they are).",
    )
    blocked_url_substrings: list[str] = Field(
        [],
        description="Files of URL substrings, one per line, matched in the lowercased URL.",
    )
    url_field: str = Field(
        "url", description="Field holding the page's URL in JSONL/Parquet sources."
    )
    top_domains: int = Field(
        50, ge=1, description="How many of each source's largest domains the report lists."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.blocked_domains or self.blocked_url_substrings)
