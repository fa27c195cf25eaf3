"""Writing a manifest and its index in one process: small runs made outside the pipeline."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

from polymix.core.manifest.entries import IndexFileInfo, ShardInfo, SideFileInfo
from polymix.core.manifest.index import Entry, encode_entry, index_file_name
from polymix.core.manifest.paths import MANIFEST_NAME
from polymix.core.manifest.schema import Manifest


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
