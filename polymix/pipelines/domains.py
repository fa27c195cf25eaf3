"""Pages per domain, and each source's largest domains for the report.

    inputs, kept, url_filter rejections ─► ((source, domain), (pages, kept, blocked))
        ─ CombinePerKey(sum) ─► Top.PerKey(source, n) ─┐
                             └► domains per source ────┴─► one small dict for stats.json

Sizes at 1 PB (5x10^11 pages): ~10^9 distinct (source, domain) keys, each a 3-integer sum
that Beam combines before the shuffle, so a hot domain with 10^8 pages is one partial sum
per worker bundle, not 10^8 values on one key. `Top` keeps `n` entries per source on each
worker and merges those; the distinct-domain count is one integer per source. Nothing that
grows with the number of domains reaches one worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from polymix.transforms.example import Example, Rejection
from polymix.transforms.web.url_filter import STAGE as URL_FILTER
from polymix.transforms.web.urls import host_of, registered_domain

Counts = tuple[int, int, int]  # pages read, kept at the end, blocked by the URL filter


def domain_of(example: Example, url_field: str) -> str | None:
    web = example.attributes.get("web", {})
    if web.get("domain"):
        return web["domain"]
    url = web.get("url") or example.original_field(url_field)
    host = host_of(url) if isinstance(url, str) else None
    return registered_domain(host) if host else None


def _keyed(counts: Counts, url_field: str):
    def key(item: Example | Rejection) -> Iterator[tuple[tuple[str, str], Counts]]:
        example = item.example if isinstance(item, Rejection) else item
        if not isinstance(example, Example):
            return
        domain = domain_of(example, url_field)
        if domain:
            yield (example.source, domain), counts

    return key


def _sum(values) -> Counts:
    pages = kept = blocked = 0
    for p, k, b in values:
        pages, kept, blocked = pages + p, kept + k, blocked + b
    return pages, kept, blocked


def rank(entry: tuple[int, int, int, str]) -> tuple[int, list[int]]:
    """Most pages first; equal counts by domain name, so ties never depend on arrival order."""
    pages, _, _, domain = entry
    return pages, [-ord(c) for c in domain] + [0]


def _summary(_: Any, top: dict[str, list], distinct: dict[str, int]) -> dict[str, Any]:
    out = {}
    for source in sorted(distinct):
        ranked = sorted(top.get(source, []), key=lambda e: (-e[0], e[3]))
        out[source] = {
            "domains": distinct[source],
            "top": [{"domain": d, "pages": p, "kept": k, "blocked": b} for p, k, b, d in ranked],
        }
    return out


class TopDomains(beam.PTransform):
    """(inputs, kept, url-filter rejections) -> one {source: {"domains", "top"}} dict."""

    def __init__(self, n: int, url_field: str) -> None:
        super().__init__()
        self._n, self._url_field = n, url_field

    def expand(
        self, inputs: tuple[beam.PCollection, beam.PCollection, beam.PCollection]
    ) -> beam.PCollection:
        read, kept, blocked = inputs
        f = self._url_field
        per_domain = (
            (
                read | "KeyRead" >> beam.FlatMap(_keyed((1, 0, 0), f)),
                kept | "KeyKept" >> beam.FlatMap(_keyed((0, 1, 0), f)),
                blocked
                | "OnlyUrlFilter" >> beam.Filter(lambda r: r.stage == URL_FILTER)
                | "KeyBlocked" >> beam.FlatMap(_keyed((0, 0, 1), f)),
            )
            | "AllDomainCounts" >> beam.Flatten()
            | "PerDomain" >> beam.CombinePerKey(_sum)
        )
        top = (
            per_domain
            | "BySource" >> beam.MapTuple(lambda key, c: (key[0], (*c, key[1])))
            | "Largest" >> beam.combiners.Top.PerKey(self._n, key=rank)
        )
        distinct = (
            per_domain
            | "OnePerDomain" >> beam.MapTuple(lambda key, _: (key[0], 1))
            | "DomainsPerSource" >> beam.CombinePerKey(sum)
        )
        return (
            read.pipeline
            | "Once" >> beam.Create([None])
            | "Summary" >> beam.Map(_summary, beam.pvalue.AsDict(top), beam.pvalue.AsDict(distinct))
        )
