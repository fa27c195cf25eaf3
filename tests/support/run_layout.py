"""Where a published run's files are, and small finished slots made without a pipeline."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from polymix.core.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardInfo,
    SideFileInfo,
    SourceTotals,
    TokenizerInfo,
    write_manifest,
)
from polymix.pipelines.file_io import gcs_bucket, write_bytes
from polymix.slot_deletion import SLOT_MARKER


def data_root(run: Path) -> Path:
    """The folder a run's manifest names (`run/data-a` for a published run)."""
    data = json.loads((run / MANIFEST_NAME).read_text()).get("data")
    return run / data if data else run


def _file(folder: Path, relative: str, data: bytes) -> tuple[int, str]:
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()


def small_slot(folder: Path, tag: str, *, shards: int = 3) -> Manifest:
    """A finished slot as a run leaves it: shards, a rejected part, index, tokenizer copy,
    stats.json, claim marker and the slot's own manifest. Shards hold `tag`, not records."""
    entries = []
    for k in range(shards):
        relative = f"shards/web/web-{k:05d}-of-{shards:05d}.array_record"
        size, sha = _file(folder, relative, f"{tag} shard {k}".encode())
        entries.append(
            ShardInfo(
                path=relative, source="web", modality="text", records=1, tokens=4,
                bytes=size, sha256=sha, positions={"text": 4},
            )
        )  # fmt: skip
    side_path = "rejected/web/c4/short/part-00000-of-00001.jsonl.gz"
    size, sha = _file(folder, side_path, gzip.compress(b'{"id": "x"}\n', mtime=0))
    side = SideFileInfo(
        path=side_path, kind="rejected", source="web", stage="c4", reason="short",
        lines=1, bytes=size, sha256=sha,
    )  # fmt: skip
    size, sha = _file(folder, "tokenizer.model", f"{tag} tokenizer".encode())
    _file(folder, "stats.json", b"{}\n")
    _file(folder, SLOT_MARKER, b"")
    totals = SourceTotals(
        modality="text", weight=1.0, input=shards + 1, kept=shards, records=shards,
        tokens=4 * shards, rejected={"c4": {"short": 1}}, positions={"text": 4 * shards},
    )  # fmt: skip
    tokenizer = TokenizerInfo(
        path="tokenizer.model", sha256=sha, vocab_size=8, bos_id=1, eos_id=2, pad_id=0
    )
    top = Manifest(
        polymix_version=tag, config_hash=tag, max_seq_len=8, tokenizer=tokenizer,
        sources={"web": totals},
    )  # fmt: skip
    return write_manifest(folder, top, entries, [side], entries_per_file=2)


def put(path: str, data: bytes) -> None:
    """Write a file as a test's setup: one upload on gs:// (quicker than Beam's create and
    rename), Beam's FileSystems elsewhere."""
    if path.startswith("gs://"):
        bucket, name = gcs_bucket(path)
        bucket.blob(name).upload_from_string(data)
    else:
        write_bytes(path, data)


def upload(local: Path, remote: str) -> None:
    """Copy a local folder to a gs:// prefix, file by file."""
    for path in sorted(local.rglob("*")):
        if path.is_file():
            put(f"{remote}/{path.relative_to(local).as_posix()}", path.read_bytes())
