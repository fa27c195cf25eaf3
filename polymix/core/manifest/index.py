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
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ValidationError

from polymix.core.manifest.load import one_line
from polymix.core.manifest.paths import MANIFEST_NAME, join
from polymix.core.manifest.schema import (
    IndexFileInfo,
    Manifest,
    ManifestError,
    ManifestRefused,
    ShardInfo,
    SideFileInfo,
)
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


def _gzip(lines: Iterable[bytes]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as out:
        for line in lines:
            out.write(line)
    return buffer.getvalue()


def _groups(entries: Iterable[Entry]) -> dict[tuple[str, str], list[Entry]]:
    groups: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.kind, entry.source), []).append(entry)
    return groups


def write_manifest(
    folder: str | os.PathLike[str],
    manifest: Manifest,
    shards: Iterable[ShardInfo],
    side_files: Iterable[SideFileInfo] = (),
    *,
    entries_per_file: int = 50_000,
) -> Manifest:
    """Write index files and `manifest.json` under a local `folder`, in one process.

    For small runs made outside the pipeline (tests, benchmarks, hand-made corpora); the
    pipeline writes the same format with Beam, in parallel. Returns the manifest as
    written, bound to `folder`.
    """
    folder = Path(folder)
    listed = []
    for (kind, source), members in sorted(_groups([*shards, *side_files]).items()):
        members.sort(key=lambda e: e.path)
        parts = [
            members[i : i + entries_per_file] for i in range(0, len(members), entries_per_file)
        ]
        for number, part in enumerate(parts):
            relative = index_file_name(kind, source, number, len(parts))
            data = _gzip(encode_entry(e) for e in part)
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
            listed.append(
                IndexFileInfo.model_validate(
                    {"path": relative, "kind": kind, "source": source, "entries": len(part)}
                    | {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                )
            )
    written = manifest.model_copy(update={"index": listed})
    (folder / MANIFEST_NAME).write_text(written.to_json())
    return written.bound_to(str(folder))
