"""Held-out shards: listed in their own index, so a reader of `shards` can never train on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.core.manifest import (
    Manifest,
    ManifestError,
    ShardInfo,
    SourceTotals,
    find_problems,
    load_manifest,
    sha256_file,
    verify_manifest,
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


def _totals(**figures) -> dict[str, SourceTotals]:
    base = {"input": 2, "kept": 2, "records": 1, "tokens": 4, "eval_records": 1, "eval_tokens": 4}
    return {"web": SourceTotals(modality="text", weight=1.0, **(base | figures))}


def _array_record_shard(folder: Path, name: str, split: str) -> ShardInfo:
    """A real one-record ArrayRecord file, so verify's record count can read it."""
    relative = f"{'eval' if split == 'eval' else 'shards'}/web/{name}.array_record"
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = ArrayRecordWriter(str(path), "group_size:1")
    writer.write(name.encode())
    writer.close()
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


def _verified_run(tmp_path: Path, **figures) -> Path:
    folder = tmp_path / f"verified-{len(list(tmp_path.iterdir()))}"
    shards = [_array_record_shard(folder, "a", "train"), _array_record_shard(folder, "b", "eval")]
    top = Manifest(polymix_version="t", config_hash="t", max_seq_len=8, sources=_totals(**figures))
    write_manifest(folder, top, shards)
    return folder


def test_verify_checks_eval_shards_like_training_shards(tmp_path):
    run = _verified_run(tmp_path)
    verify_manifest(run)
    data = bytearray((run / "eval/web/b.array_record").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "eval/web/b.array_record").write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="shard eval/web/b.array_record: sha256"):
        verify_manifest(run)
    (run / "eval/web/b.array_record").unlink()
    with pytest.raises(ManifestError, match="shard eval/web/b.array_record: missing"):
        verify_manifest(run)


def test_verify_checks_the_eval_totals_against_the_eval_shards(tmp_path):
    problems = list(find_problems(load_manifest(_verified_run(tmp_path, eval_tokens=9))))
    assert problems == ["source web: eval shards hold 4 positions, manifest says 9"]
    problems = list(find_problems(load_manifest(_verified_run(tmp_path, eval_records=0))))
    assert problems == ["source web: eval shards hold 1 records, manifest says 0"]
