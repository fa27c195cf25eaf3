"""Checking one file a manifest names against its entry: shards, side files, the tokenizer.

Each check reads the file once, as a stream (a remote shard is spooled to local scratch
only because ArrayRecord opens local files), and returns what is wrong as one line
naming the file, or None.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from polymix.core.manifest.entries import ManifestError, SideFileInfo
from polymix.core.manifest.paths import is_remote, join
from polymix.core.manifest.schema import TokenizerInfo
from polymix.core.manifest.storage import chunks, size


class ShardFile(Protocol):
    """What checking a shard needs: a `ShardInfo`, or the loader's slimmer record of one."""

    @property
    def path(self) -> str: ...
    @property
    def records(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def sha256(self) -> str: ...


@contextmanager
def _hashed_local_copy(path: str) -> Iterator[tuple[str, str]]:
    """(sha256, a local path with the same bytes): the file itself when it is local."""
    digest = hashlib.sha256()
    if not is_remote(path):
        for block in chunks(path):
            digest.update(block)
        yield digest.hexdigest(), path
        return
    with tempfile.NamedTemporaryFile(suffix=".array_record") as scratch:
        for block in chunks(path):
            digest.update(block)
            scratch.write(block)
        scratch.flush()
        yield digest.hexdigest(), scratch.name


def _record_count(local: str) -> int:
    from array_record.python.array_record_module import ArrayRecordReader

    reader = ArrayRecordReader(local)
    try:
        return reader.num_records()
    finally:
        reader.close()


def unreadable_shard(path: str, exc: BaseException) -> str:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"shard {path}: not a readable ArrayRecord file ({detail})"


def shard_problem(root: str, shard: ShardFile, *, count_records: bool = True) -> str | None:
    """What is wrong with a shard on disk (missing, resized, altered, unreadable, short)."""
    try:
        return _shard_problem(root, shard, count_records)
    except OSError as exc:  # permissions, a bucket that answers with an error
        return f"shard {shard.path}: cannot be read ({exc})"


def _shard_problem(root: str, shard: ShardFile, count_records: bool) -> str | None:
    full = join(root, shard.path)
    found = size(full)
    if found is None:
        return f"shard {shard.path}: missing"
    if found != shard.bytes:
        return f"shard {shard.path}: {found} bytes on disk, manifest says {shard.bytes}"
    with _hashed_local_copy(full) as (digest, local):
        if digest != shard.sha256:
            return f"shard {shard.path}: sha256 {digest} does not match the manifest"
        if not count_records:
            return None
        try:
            records = _record_count(local)
        except (RuntimeError, ValueError, OSError) as exc:
            return unreadable_shard(shard.path, exc)
    if records != shard.records:
        return f"shard {shard.path}: {records} records, manifest says {shard.records}"
    return None


def verify_shard(
    root: str | os.PathLike[str], shard: ShardFile, *, count_records: bool = True
) -> None:
    """Raise `ManifestError` naming the shard if it is not exactly what the manifest says."""
    problem = shard_problem(os.fspath(root), shard, count_records=count_records)
    if problem is not None:
        raise ManifestError(problem)


@dataclass
class _GzipScan:
    digest: str
    bytes: int
    lines: int
    error: str | None


def _scan_gzip(path: str) -> _GzipScan:
    """Hash the compressed bytes and count the decompressed lines, in one streaming pass.

    Handles several gzip members back to back, as `gzip` itself does.
    """
    digest, total, lines, last, error = hashlib.sha256(), 0, 0, b"", None
    inflate, in_member = zlib.decompressobj(wbits=31), False
    for block in chunks(path):
        digest.update(block)
        total += len(block)
        while block and error is None:
            try:
                text = inflate.decompress(block)
            except zlib.error as exc:
                error = str(exc)
                break
            in_member = not inflate.eof
            lines += text.count(b"\n")
            last = text[-1:] or last
            block = inflate.unused_data if inflate.eof else b""
            if inflate.eof:
                inflate = zlib.decompressobj(wbits=31)
    if error is None and (in_member or total == 0):
        error = "truncated gzip stream" if total else "empty file"
    lines += 1 if last not in (b"", b"\n") else 0
    return _GzipScan(digest.hexdigest(), total, lines, error)


def side_file_check(root: str, entry: SideFileInfo) -> tuple[int, list[str]]:
    """(lines actually in the file, what is wrong with it); a missing file holds 0 lines."""
    name = f"side file {entry.path}"
    if not entry.path.startswith(entry.folder + "/"):
        return 0, [f"{name}: not under {entry.folder}/, where its entry says it belongs"]
    full = join(root, entry.path)
    try:
        if size(full) is None:
            return 0, [f"{name}: missing"]
        scan = _scan_gzip(full)
    except OSError as exc:
        return 0, [f"{name}: cannot be read ({exc})"]
    problems = []
    if scan.bytes != entry.bytes:
        problems.append(f"{name}: {scan.bytes} bytes on disk, manifest says {entry.bytes}")
    elif scan.digest != entry.sha256:
        problems.append(f"{name}: sha256 {scan.digest} does not match the manifest")
    if scan.error is not None:
        problems.append(f"{name}: not a readable gzip file ({scan.error})")
    elif scan.lines != entry.lines:
        problems.append(f"{name}: {scan.lines} lines, manifest says {entry.lines}")
    return scan.lines, problems


def tokenizer_problem(root: str, tokenizer: TokenizerInfo) -> str | None:
    full = join(root, tokenizer.path)
    digest = hashlib.sha256()
    try:
        if size(full) is None:
            return f"tokenizer copy {tokenizer.path}: missing"
        for block in chunks(full):
            digest.update(block)
    except OSError as exc:
        return f"tokenizer copy {tokenizer.path}: cannot be read ({exc})"
    if digest.hexdigest() != tokenizer.sha256:
        return (
            f"tokenizer copy {tokenizer.path}: sha256 {digest.hexdigest()} does not match the "
            "manifest"
        )
    return None
