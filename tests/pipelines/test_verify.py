"""`polymix verify` on tampered copies of a real run: every problem found, each file named."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.core.manifest import load_manifest
from tests.support.manifest_edit import edit_entries, edit_shard_entries, edit_top_level
from tests.support.run_layout import data_root


@pytest.fixture()
def run(demo_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy, ignore=shutil.ignore_patterns("report"))
    return copy


def verify(target: Path | str, capsys) -> tuple[int, str]:
    code = main(["verify", str(target)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def side_file(run: Path, kind: str) -> Path:
    return sorted((data_root(run) / kind).rglob("*.jsonl.gz"))[0]


def test_the_untouched_run_verifies(run, capsys):
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 0, printed
    assert printed.startswith("ok: ")


ATTACKS = {
    "system file": "/etc/passwd",
    "parent folder": "../other/shards/web/web-00000-of-00002.array_record",
    "scheme": "gs://other-bucket/run/shards/web/web-00000-of-00002.array_record",
    "windows separators": "shards\\..\\..\\secret.array_record",
    "windows drive": "C:\\runs\\other\\shards\\web-00000.array_record",
    "empty segment": "shards//web/web-00000-of-00002.array_record",
    "dot segment": "shards/./web/web-00000-of-00002.array_record",
}


@pytest.mark.parametrize("path", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_shard_path_that_leaves_the_run_is_refused_in_one_line(run, capsys, path):
    def point_elsewhere(entries):
        entries[0]["path"] = path
        return entries

    edit_shard_entries(run, point_elsewhere)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 2
    assert len(printed.strip().splitlines()) == 1, printed
    assert repr(path) in printed and "relative to the manifest's folder" in printed
    assert "bytes on disk" not in printed  # refused before the file was looked at


def test_an_absolute_path_to_another_runs_valid_shard_is_refused(run, demo_run, capsys):
    def borrow(entries):
        entries[0]["path"] = str(
            data_root(demo_run) / entries[0]["path"]
        )  # same bytes, same sha256
        return entries

    edit_shard_entries(run, borrow)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 2, printed
    assert str(demo_run) in printed and "relative to the manifest's folder" in printed


def test_a_checksum_matching_file_that_is_not_array_record_is_named(run, capsys):
    junk = b"not an ArrayRecord file at all\n" * 64
    victim: dict = {}

    def replace_first(entries):
        victim.update(entries[0])
        (data_root(run) / entries[0]["path"]).write_bytes(junk)
        entries[0]["bytes"] = len(junk)
        entries[0]["sha256"] = hashlib.sha256(junk).hexdigest()
        return entries

    edit_shard_entries(run, replace_first)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert f"{victim['path']}: not a readable ArrayRecord file" in printed
    assert "Traceback" not in printed


def test_a_deleted_duplicates_file_is_named(run, capsys):
    victim = side_file(run, "duplicates")
    victim.unlink()
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert f"{victim.relative_to(data_root(run))}: missing" in printed


def test_an_emptied_rejected_file_is_named_with_its_count(run, capsys):
    victim = side_file(run, "rejected")
    with gzip.open(victim, "rt") as handle:
        lines = sum(1 for _ in handle)
    with gzip.GzipFile(victim, "wb", mtime=0):
        pass
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert str(victim.relative_to(data_root(run))) in printed
    _, source, stage, reason, _ = victim.relative_to(data_root(run)).parts
    assert f"rejected/{source}/{stage}/{reason}: 0 lines written" in printed
    assert f"manifest counts {lines}" in printed or "manifest counts" in printed


def test_a_shard_dropped_from_manifest_and_disk_is_caught_by_the_source_totals(run, capsys):
    dropped: dict = {}

    def drop_a_web_shard(entries):
        victim = next(e for e in entries if e["source"] == "web")
        dropped.update(victim)
        (data_root(run) / victim["path"]).unlink()
        return [e for e in entries if e is not victim]

    edit_shard_entries(run, drop_a_web_shard)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    totals = load_manifest(run / "manifest.json").sources["web"]
    left = totals.records - dropped["records"]
    assert f"source web: shards hold {left} records, manifest says {totals.records}" in printed


def test_an_empty_shard_list_is_refused_when_sources_kept_something(run, capsys):
    edit_shard_entries(run, lambda entries: [])
    edit_entries(run, "eval", lambda entries: [])
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert "source web: kept" in printed and "but no shard" in printed
    assert not printed.startswith("ok")


def eval_shard(run: Path, source: str = "web") -> Path:
    return sorted((data_root(run) / "eval" / source).glob("*.array_record"))[0]


def test_a_deleted_eval_shard_is_named(run, capsys):
    victim = eval_shard(run)
    victim.unlink()
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert f"{victim.relative_to(data_root(run))}: missing" in printed


def test_an_altered_eval_shard_is_named(run, capsys):
    victim = eval_shard(run)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert f"{victim.relative_to(data_root(run))}: sha256" in printed


def test_an_eval_shard_dropped_from_index_and_disk_is_caught_by_eval_records(run, capsys):
    dropped: dict = {}

    def drop_a_web_eval_shard(entries):
        victim = next(e for e in entries if e["source"] == "web")
        dropped.update(victim)
        (data_root(run) / victim["path"]).unlink()
        return [e for e in entries if e is not victim]

    edit_entries(run, "eval", drop_a_web_eval_shard)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    totals = load_manifest(run / "manifest.json").sources["web"]
    left = totals.eval_records - dropped["records"]
    assert f"source web: eval shards hold {left} records, manifest says {totals.eval_records}" in (
        printed
    )


def test_eval_totals_that_disagree_with_the_eval_shards_are_named(run, capsys):
    def inflate(raw: dict) -> dict:
        raw["sources"]["web"]["eval_tokens"] += 7
        return raw

    edit_top_level(run, inflate)
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    held = load_manifest(run / "manifest.json").sources["web"].eval_tokens
    assert f"source web: eval shards hold {held - 7} positions, manifest says {held}" in printed


def test_a_corrupted_tokenizer_copy_is_named(run, capsys):
    model = data_root(run) / "tokenizer.model"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    assert "tokenizer.model: sha256" in printed


def test_every_problem_is_listed_in_one_run_with_a_count(run, capsys):
    duplicates = side_file(run, "duplicates")
    duplicates.unlink()
    rejected = side_file(run, "rejected")
    with gzip.GzipFile(rejected, "wb", mtime=0):
        pass
    (data_root(run) / "tokenizer.model").write_bytes(b"garbage")
    shard = sorted((data_root(run) / "shards").rglob("*.array_record"))[-1]
    shard.write_bytes(shard.read_bytes()[:-10])
    code, printed = verify(run / "manifest.json", capsys)
    assert code == 1
    for culprit in (duplicates, rejected, data_root(run) / "tokenizer.model", shard):
        assert str(culprit.relative_to(data_root(run))) in printed, culprit
    problems = [line for line in printed.splitlines() if line.startswith("problem: ")]
    assert len(problems) >= 4
    assert f"{len(problems)} problem(s)" in printed.splitlines()[-1]


@pytest.mark.slow  # a run copied to the GCS emulator: ~25 s
def test_a_remote_run_is_verified_through_beam_filesystems(run, capsys, gcs):
    from apache_beam.io.filesystems import FileSystems

    from polymix.pipelines.file_io import write_bytes
    from tests.support.gcs_emulator import BUCKET

    remote = f"gs://{BUCKET}/verify-test/run"
    for path in run.rglob("*"):
        if path.is_file():
            write_bytes(f"{remote}/{path.relative_to(run).as_posix()}", path.read_bytes())
    code, printed = verify(f"{remote}/manifest.json", capsys)
    assert code == 0, printed
    victim = side_file(run, "duplicates").relative_to(data_root(run)).as_posix()
    FileSystems.delete([f"{remote}/data-a/{victim}"])
    code, printed = verify(f"{remote}/manifest.json", capsys)
    assert code == 1
    assert f"{victim}: missing" in printed
    assert f"(paths under {remote}/data-a)" in printed.splitlines()[-1]
