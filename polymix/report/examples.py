"""A few removed documents per rejection reason and per duplicate stage, from the side files.

A count says how much a stage removed; only the documents say whether it was right to.
The run already writes every removed document to `rejected/` and `duplicates/`, so the
report takes its examples from there and the pipeline does no extra work.

Cost at any scale: one source's side-file index is streamed (the manifest reader holds
one index file at a time) and the scan stops as soon as every (stage, reason) the
source's totals name has a part; of that part only the first `per_group` lines are
decompressed, a few KB from the head of one object. A report of a 1 PB run (~3.5x10^11
removed documents) so reads ~(reasons x 64 KB) of side files, never the side files.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from polymix.core.manifest import Manifest, SourceTotals, join
from polymix.core.manifest.entries import ManifestError, SideFileInfo, SideKind
from polymix.core.manifest.storage import open_binary
from polymix.transforms.unicode_safety import escape_unencodable

PER_GROUP = 3
MAX_CHARS = 300


@dataclass(frozen=True)
class Sample:
    """One removed document, cut to `MAX_CHARS`; `duplicate_of` is the id kept in its place."""

    id: str
    text: str
    cut: int  # characters left out
    duplicate_of: str | None = None
    similarity: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class SampleGroup:
    source: str
    kind: SideKind
    stage: str
    reason: str  # "" for duplicates
    removed: int  # how many the manifest counts for this group
    path: str | None  # the part the samples come from; None when no part is listed
    samples: tuple[Sample, ...] = ()
    error: str | None = None


def _wanted(totals: SourceTotals, kind: SideKind) -> dict[tuple[str, str], int]:
    if kind == "duplicates":
        return {(stage, ""): n for stage, n in totals.duplicates.items() if n}
    return {(s, r): n for s, reasons in totals.rejected.items() for r, n in reasons.items() if n}


def _first_parts(
    manifest: Manifest, source: str, kind: SideKind, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], SideFileInfo]:
    """The first listed part of every wanted group; stops reading the index once all are found."""
    found: dict[tuple[str, str], SideFileInfo] = {}
    for entry in manifest.side_files(source, kind):
        key = (entry.stage, entry.reason)
        if key in wanted and key not in found and entry.lines:
            found[key] = entry
            if len(found) == len(wanted):
                break
    return found


def _shown_text(line: dict[str, Any]) -> str:
    """The text as the removing stage saw it; the input as read when there is none (media)."""
    text = line.get("text")
    if isinstance(text, str):
        return text if text.strip() else f"(empty text: {json.dumps(text)})"
    return json.dumps(line.get("original", {}), ensure_ascii=False, sort_keys=True)


def _sample(line: dict[str, Any], max_chars: int) -> Sample:
    """One example as the page shows it: a lone surrogate (kept as its escape in the side
    line, read back as the character) is shown as that escape, so the page stays UTF-8."""
    text = escape_unencodable(_shown_text(line))
    similarity = line.get("similarity")
    detail = line.get("detail") or line.get("encode_error")
    return Sample(
        id=escape_unencodable(str(line.get("id", ""))),
        text=text[:max_chars],
        cut=max(len(text) - max_chars, 0),
        duplicate_of=None if line.get("duplicate_of") is None else str(line["duplicate_of"]),
        similarity=float(similarity) if isinstance(similarity, int | float) else None,
        detail=None if detail is None else escape_unencodable(str(detail))[:max_chars],
    )


def read_samples(root: str, path: str, count: int, max_chars: int) -> tuple[Sample, ...]:
    """The first `count` lines of one gzip'd side file; only their bytes are decompressed."""
    with open_binary(join(root, path)) as raw, gzip.GzipFile(fileobj=raw) as lines:
        return tuple(_sample(json.loads(line), max_chars) for line in islice(lines, count))


def _read_group(root: str, group: SampleGroup, count: int, max_chars: int) -> SampleGroup:
    """`group` with its samples, or with the reason they could not be read."""
    if group.path is None:
        return replace(group, error="no side file is listed for it")
    try:
        return replace(group, samples=read_samples(root, group.path, count, max_chars))
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        return replace(group, error=f"{group.path} cannot be read ({type(exc).__name__}: {exc})")


def source_samples(
    manifest: Manifest,
    source: str,
    kind: SideKind,
    per_group: int = PER_GROUP,
    max_chars: int = MAX_CHARS,
) -> list[SampleGroup]:
    """One group per (stage, reason) the source's totals count, in stage then reason order."""
    wanted = _wanted(manifest.sources[source], kind)
    if not wanted:
        return []
    try:
        parts = _first_parts(manifest, source, kind, set(wanted))
    except ManifestError as exc:  # the index is gone or damaged: the counts still stand
        return [
            SampleGroup(source, kind, s, r, n, None, error=str(exc))
            for (s, r), n in sorted(wanted.items())
        ]
    groups = []
    for (stage, reason), removed in sorted(wanted.items()):
        entry = parts.get((stage, reason))
        group = SampleGroup(source, kind, stage, reason, removed, entry and entry.path)
        groups.append(_read_group(manifest.root, group, per_group, max_chars))
    return groups


def run_samples(
    manifest: Manifest, per_group: int = PER_GROUP, max_chars: int = MAX_CHARS
) -> list[SampleGroup]:
    """Examples of every rejection reason and every duplicate stage of every source."""
    groups: list[SampleGroup] = []
    for source in sorted(manifest.sources):
        for kind in ("rejected", "duplicates"):
            groups += source_samples(manifest, source, kind, per_group, max_chars)
    return groups
