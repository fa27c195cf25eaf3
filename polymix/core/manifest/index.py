"""The index: gzip'd JSON Lines files of shard and side-file entries, listed by the top level.

Index files are grouped by (kind, source), so a reader that needs one source's shards
reads only that source's files. The top level holds each file's path, entry count,
size and sha256; a reader loads one (compressed) index file, checks its bytes against
the top level, then streams its lines, each validated like the top level (paths
included) before anything it names is opened. Memory while reading: one index file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator

from pydantic import BaseModel, ValidationError

from polymix.core.manifest.entries import (
    IndexFileInfo,
    ManifestError,
    ManifestRefused,
    ShardInfo,
    SideFileInfo,
    one_line,
)
from polymix.core.manifest.paths import join
from polymix.core.manifest.storage import read_bytes

Entry = ShardInfo | SideFileInfo
INDEX_FOLDER = "index"


def encode_entry(entry: BaseModel) -> bytes:
    """One index line: canonical JSON, so the same entries give the same bytes."""
    text = json.dumps(entry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def index_file_name(kind: str, source: str, index: int, count: int) -> str:
    return f"{INDEX_FOLDER}/{kind}/{source}/part-{index:05d}-of-{count:05d}.jsonl.gz"


def _checked_bytes(root: str, info: IndexFileInfo) -> bytes:
    try:
        data = read_bytes(join(root, info.path))
    except FileNotFoundError:
        raise ManifestError(f"index {info.path}: missing") from None
    except OSError as exc:
        raise ManifestError(f"index {info.path}: cannot be read ({exc})") from None
    if len(data) != info.bytes:
        raise ManifestError(f"index {info.path}: {len(data)} bytes, manifest says {info.bytes}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != info.sha256:
        raise ManifestError(f"index {info.path}: sha256 {digest} does not match the manifest")
    return data


def _entry(info: IndexFileInfo, number: int, line: bytes) -> Entry:
    model = ShardInfo if info.kind in ("shards", "eval") else SideFileInfo
    try:
        entry = model.model_validate_json(line)
    except ValidationError as exc:
        raise ManifestRefused(f"index {info.path} line {number}: {one_line(exc)}") from None
    kind = entry.kind
    if entry.source != info.source or kind != info.kind:
        raise ManifestRefused(
            f"index {info.path} line {number}: a {kind} entry of source {entry.source!r} in "
            f"the {info.kind} index of source {info.source!r}"
        )
    return entry


def read_index_file(root: str, info: IndexFileInfo) -> Iterator[Entry]:
    """The entries of one index file, after its size and checksum match the top level."""
    data = _checked_bytes(root, info)
    count = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as lines:
            for count, line in enumerate(lines, 1):  # noqa: B007 (the count is used below)
                yield _entry(info, count, line)
    except (OSError, EOFError, zlib.error) as exc:
        raise ManifestError(f"index {info.path}: not a readable gzip file ({exc})") from None
    if count != info.entries:
        raise ManifestError(f"index {info.path}: {count} entries, manifest says {info.entries}")
