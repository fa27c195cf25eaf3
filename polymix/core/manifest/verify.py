"""Proving a manifest from what was written: every file re-read, every total re-added.

`find_problems` first reads the whole index once (an entry naming a path outside the
run refuses the manifest before any file is opened), then walks one source at a time:
it streams the source's index files, re-checks every shard and eval shard (size,
sha256, record count) and every side file (size, sha256, decompressed line count), then
compares what the files hold with the source's totals: records and positions in
training shards, `eval_records` and `eval_tokens` in eval shards, lines in
`rejected/<source>/<stage>/<reason>/` and `duplicates/<source>/<stage>/` with the
counts, `input = kept + duplicates + rejected`. It yields every problem, each naming
its file, rather than stopping at the first.

Memory: one index file, plus the paths of one source's shards (to catch an entry listed
twice): ~100 bytes a shard, ~250 MB for a source of 2.5M shards at 1 PB (its eval
shards add ~0.5% to that).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain

from polymix.core.manifest.entries import ManifestError, ManifestRefused, ShardInfo
from polymix.core.manifest.files import shard_problem, side_file_check, tokenizer_problem
from polymix.core.manifest.index import read_index_file
from polymix.core.manifest.load import load_manifest
from polymix.core.manifest.schema import Manifest, SourceTotals


@dataclass
class _Written:
    """What one source's files hold, summed from the index and from the files themselves."""

    shards: int = 0
    records: int = 0
    tokens: int = 0
    positions: Counter = field(default_factory=Counter)
    eval_shards: int = 0
    eval_records: int = 0
    eval_tokens: int = 0
    lines: Counter = field(default_factory=Counter)  # (kind, stage, reason) -> lines on disk
    index_ok: bool = True


def _add_shard(written: _Written, shard: ShardInfo) -> None:
    if shard.split == "eval":
        written.eval_shards += 1
        written.eval_records += shard.records
        written.eval_tokens += shard.tokens
    else:
        written.shards += 1
        written.records += shard.records
        written.tokens += shard.tokens
        written.positions.update(shard.positions)


def _shard_problems(manifest: Manifest, name: str, written: _Written) -> Iterator[str]:
    """Training and eval shards alike: each file re-read, each path listed once."""
    seen: set[str] = set()
    try:
        for shard in chain(manifest.shards(name), manifest.eval_shards(name)):
            if shard.path in seen:
                yield f"shard {shard.path}: listed twice"
                continue
            seen.add(shard.path)
            _add_shard(written, shard)
            problem = shard_problem(manifest.root, shard)
            if problem is not None:
                yield problem
    except ManifestError:  # reported by `index_problems`
        written.index_ok = False


def _side_problems(manifest: Manifest, name: str, written: _Written) -> Iterator[str]:
    seen: set[str] = set()
    try:
        for entry in manifest.side_files(name):
            if entry.path in seen:
                yield f"side file {entry.path}: listed twice"
                continue
            seen.add(entry.path)
            lines, problems = side_file_check(manifest.root, entry)
            written.lines[(entry.kind, entry.stage, entry.reason)] += lines
            yield from problems
    except ManifestError:  # reported by `index_problems`
        written.index_ok = False


def _count_problems(name: str, totals: SourceTotals, written: _Written) -> Iterator[str]:
    """The source's counts against what its files hold."""
    expected = Counter(
        {
            ("rejected", s, r): n
            for s, reasons in totals.rejected.items()
            for r, n in reasons.items()
        }
    )
    expected.update({("duplicates", s, ""): n for s, n in totals.duplicates.items()})
    for key in sorted(set(expected) | set(written.lines)):
        kind, stage, reason = key
        if written.lines[key] != expected[key]:
            folder = "/".join([kind, name, stage] + ([reason] if reason else []))
            yield (f"{folder}: {written.lines[key]} lines written, manifest counts {expected[key]}")
    if totals.kept > 0 and written.shards + written.eval_shards == 0:
        yield f"source {name}: kept {totals.kept} examples but no shard is listed"
    yield from _figure_problems(name, totals, written)
    by_kind = {k: n for k, n in written.positions.items() if n}
    if by_kind and by_kind != {k: n for k, n in totals.positions.items() if n}:
        yield f"source {name}: shards hold positions {by_kind}, manifest says {totals.positions}"
    if not totals.balances():
        yield (
            f"source {name}: input {totals.input} != kept {totals.kept} + duplicates "
            f"{totals.duplicates_total} + rejected {totals.rejected_total}"
        )


def _figure_problems(name: str, totals: SourceTotals, written: _Written) -> Iterator[str]:
    figures = (
        ("shards", "records", written.records, totals.records),
        ("shards", "positions", written.tokens, totals.tokens),
        ("eval shards", "records", written.eval_records, totals.eval_records),
        ("eval shards", "positions", written.eval_tokens, totals.eval_tokens),
    )
    for files, what, found, said in figures:
        if found != said:
            yield f"source {name}: {files} hold {found} {what}, manifest says {said}"


def index_problems(manifest: Manifest) -> list[str]:
    """Read every index file once, before any file it names is opened.

    An entry that no pipeline writes (a path leaving the run) raises `ManifestRefused`;
    an index file that is missing, altered or short is a problem like any other file.
    """
    problems = []
    for info in manifest.index:
        try:
            for _ in read_index_file(manifest.root, info):
                pass
        except ManifestRefused:
            raise
        except ManifestError as exc:
            problems.append(str(exc))
    for listed in sorted({f.source for f in manifest.index} - set(manifest.sources)):
        problems.append(f"index: files listed for source {listed!r}, which the manifest lacks")
    return problems


def find_problems(manifest: Manifest) -> Iterator[str]:
    """Every disagreement between the manifest and the files, one line each."""
    broken = index_problems(manifest)
    yield from broken
    if manifest.tokenizer is not None:
        problem = tokenizer_problem(manifest.root, manifest.tokenizer)
        if problem is not None:
            yield problem
    for name, totals in sorted(manifest.sources.items()):
        written = _Written()
        yield from _shard_problems(manifest, name, written)
        yield from _side_problems(manifest, name, written)
        if written.index_ok:  # else the index problem above is the cause
            yield from _count_problems(name, totals, written)


def problems_line(path: str, problems: list[str], *, shown: int = 5) -> str:
    """Several problems as the one line an error message may be."""
    more = (
        f"; and {len(problems) - shown} more (run `polymix verify`)"
        if len(problems) > shown
        else ""
    )
    return f"{path}: {len(problems)} problem(s): " + "; ".join(problems[:shown]) + more


def verify_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The manifest, once every file it names checks out; else `ManifestError` listing them."""
    manifest = load_manifest(path)
    problems = list(find_problems(manifest))
    if problems:
        raise ManifestError(problems_line(os.fspath(path), problems))
    return manifest
