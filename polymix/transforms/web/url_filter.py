"""The URL block list FineWeb and RefinedWeb apply: blocked domains and URL substrings.

A listed domain blocks itself and every subdomain (`casino.example` blocks
`www.casino.example`), which is how UT1's lists are meant; a substring blocks every URL
that contains it, lowercased. The list is config-sized data: held once per worker
process, ~100 bytes per entry in memory (UT1's largest category, ~4.6x10^6 domains, is
~0.5 GB), and checking one URL costs one set look-up per label of its host plus one
regex scan of the URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from polymix.transforms.web.urls import host_of

STAGE = "url_filter"


class BlockListError(ValueError):
    """A block list file that cannot be used; the message names the file and line."""


def list_entries(data: bytes, origin: str) -> list[str]:
    """Non-empty, non-comment lines, lowercased and stripped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BlockListError(f"{origin}: line {line} is not UTF-8") from None
    entries = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            entries.append(entry)
    return entries


def domain_entry(entry: str) -> str:
    """A domain as listed: bare, `*.`/`.` prefixed, or a URL whose host is meant."""
    if "://" in entry:
        entry = host_of(entry) or ""
    return entry.removeprefix("*.").strip(".")


@dataclass(frozen=True)
class BlockList:
    domains: frozenset[str] = frozenset()
    substrings: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, domains: Iterable[str], substrings: Iterable[str]) -> BlockList:
        blocked = frozenset(d for d in (domain_entry(e) for e in domains) if d)
        parts = tuple(sorted(set(substrings)))
        pattern = re.compile("|".join(map(re.escape, parts))) if parts else None
        return cls(blocked, parts, pattern)

    def __len__(self) -> int:
        return len(self.domains) + len(self.substrings)

    def verdict(self, url: str) -> tuple[str, str] | None:
        """(reason, what matched) for a blocked URL; None for a URL that may stay."""
        host = host_of(url)
        if host is None:
            return "invalid_url", url[:200]
        labels = host.split(".")
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            if suffix in self.domains:
                return "domain", suffix
        if self._pattern is not None:
            found = self._pattern.search(url.lower())
            if found:
                return "url_substring", found.group(0)
        return None
