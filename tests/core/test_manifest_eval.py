"""Held-out shards: listed in their own index, so a reader of `shards` can never train on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from polymix.core.manifest import (
    Manifest,
    ManifestError,
    ShardInfo,
    SourceTotals,
    load_manifest,
    sha256_file,
    write_manifest,
)
from tests.support.manifest_edit import edit_entries


def _shard(folder: Path, name: str, split: str) -> ShardInfo:
    relative = f"{'eval' if split == 'eval' else 'shards'}/web/{name}.array_record"
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    (folder / relative).write_bytes(name.encode())
    path = folder / relative
    return ShardInfo(
        path=relative,
        source="web",
        modality="text",
        records=1,
        tokens=4,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        split=split,
    )


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shards = [_shard(folder, "a", "train"), _shard(folder, "b", "eval")]
    totals = {"web": SourceTotals(modality="text", weight=1.0, input=2, kept=2, records=1)}
    top = Manifest(polymix_version="t", config_hash="t", max_seq_len=8, sources=totals)
    write_manifest(folder, top, shards)
    return folder


def test_eval_shards_are_apart_from_the_training_shards(run):
    manifest = load_manifest(run)
    assert [s.path for s in manifest.shards()] == ["shards/web/a.array_record"]
    assert [s.path for s in manifest.eval_shards("web")] == ["eval/web/b.array_record"]
    assert manifest.shard_count == 1
    assert list(manifest.side_files()) == []


def test_a_held_out_entry_in_the_training_index_is_refused(run):
    edit_entries(run, "shards", lambda entries: [e | {"split": "eval"} for e in entries])
    with pytest.raises(ManifestError, match="a eval entry of source 'web' in the shards index"):
        list(load_manifest(run).shards())
