"""A run never destroys what it did not write, and never replaces a good run with a failed one."""

import json
import os
import shutil
import socket

import pytest
import yaml

from polymix.cli import main
from polymix.run_lock import LEASE_NAME, Lease, acquire, release
from polymix.run_output import STAGING
from tests.support.small_disk import shrink, small_disk


def tree(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def error_lines(capsys) -> list[str]:
    """What the user reads on stderr, less the progress lines a run prints while it runs."""
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line and not line.startswith("progress [")]


def leaked(root) -> list[str]:
    return [str(p) for p in root.rglob("*") if ".tmp-" in p.name or p.name == STAGING]


def config_copy(sample_corpus, tmp_path, **shards):
    config_path, _ = sample_corpus
    root = tmp_path / "corpus"
    shutil.copytree(config_path.parent, root)
    raw = yaml.safe_load((root / "polymix.yaml").read_text())
    raw.setdefault("shards", {}).update(shards)
    (root / "polymix.yaml").write_text(yaml.safe_dump(raw))
    return root / "polymix.yaml"


def test_overwrite_refuses_a_folder_holding_files_polymix_did_not_write(
    sample_corpus, tmp_path, capsys
):
    config, _ = sample_corpus
    out = tmp_path / "thesis"
    (out / "report").mkdir(parents=True)
    (out / "report" / "thesis.docx").write_bytes(b"three years of work")
    assert main(["run", str(config), "--output", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{out}/report" in err and "not written by polymix" in err
    assert (out / "report" / "thesis.docx").read_bytes() == b"three years of work"


@pytest.mark.slow  # two whole runs into one folder: ~40 s
def test_overwrite_publishes_the_other_slot_and_deletes_only_the_old_one(
    demo_run, sample_corpus, tmp_path, capsys
):
    out = tmp_path / "out"
    shutil.copytree(demo_run, out)
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "a.png").write_bytes(b"mine too")
    (out / "data-a-notes").mkdir()
    (out / "data-a-notes" / "keep.txt").write_text("a sibling of the slot, not in it")
    old_shards = {p.name for p in (out / "data-a" / "shards").rglob("*.array_record")}
    # Smaller shards: other names and bytes, so no old shard could pass for a new one.
    config = config_copy(sample_corpus, tmp_path, target_bytes=64 * 1024)
    assert main(["run", str(config), "--output", str(out), "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["data"] == "data-b"
    new_shards = {p.name for p in (out / "data-b" / "shards").rglob("*.array_record")}
    assert new_shards and not new_shards & old_shards
    assert not (out / "data-a").exists()  # deleted by its index, its folders pruned
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "plots" / "a.png").read_bytes() == b"mine too"
    assert (out / "data-a-notes" / "keep.txt").exists()
    assert leaked(out) == [] and not (out / LEASE_NAME).exists()
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0


@pytest.mark.slow  # two whole runs, one on a full disk: ~35 s
def test_a_run_that_fills_the_disk_keeps_the_previous_run_and_leaves_nothing(
    demo_run, sample_corpus, tmp_path, capsys
):
    config, _ = sample_corpus
    with small_disk(tmp_path / "disk") as disk:
        out = disk / "out"
        shutil.copytree(demo_run, out)
        before = tree(out)
        shrink(disk, free_kib=512)  # a second run needs ~5 MB of staging
        assert main(["run", str(config), "--output", str(out), "--overwrite"]) == 1
        lines = error_lines(capsys)
        assert len(lines) == 1, lines
        err = lines[0]
        assert "no space left on the device while writing" in err and str(out) in err
        assert tree(out) == before
        assert leaked(out) == [] and not (out / LEASE_NAME).exists()


def test_a_report_that_does_not_fit_keeps_the_previous_report(demo_run, tmp_path, capsys):
    with small_disk(tmp_path / "disk") as disk:
        out = disk / "out"
        shutil.copytree(demo_run, out)
        before = tree(out / "report")
        shrink(disk, free_kib=256)  # the report is ~1.2 MB
        # Re-planned, so every file the new report would write differs from the old one.
        assert main(["report", str(out), "--budget", "100000"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "no space left" in err and f"{out}/report" in err
        assert tree(out / "report") == before
        assert leaked(out) == []


def test_a_second_run_into_a_locked_output_is_refused(demo_run, sample_corpus, capsys):
    config, _ = sample_corpus
    lease, _ = acquire(str(demo_run))  # held by this (live) process, as by a running run
    try:
        before = tree(demo_run)
        assert main(["run", str(config), "--output", str(demo_run), "--overwrite"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "being written by another polymix run" in err
        assert lease.run_id in err
        assert tree(demo_run) == before
    finally:
        release(str(demo_run), lease)


def _write_lease(folder, **fields):
    lease = Lease(**{"run_id": "dead0001", "host": socket.gethostname(), **fields})
    (folder / LEASE_NAME).write_bytes(lease.to_bytes())
    return lease


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_lease_left_by_a_dead_run_on_this_machine_is_taken_over(tmp_path):
    _write_lease(tmp_path, pid=_dead_pid(), process_start=None)
    lease, broken = acquire(str(tmp_path))
    assert broken is not None and broken.run_id == "dead0001"
    assert json.loads((tmp_path / LEASE_NAME).read_text())["run_id"] == lease.run_id


def test_a_recycled_pid_does_not_keep_a_dead_lease(tmp_path):
    _write_lease(tmp_path, pid=os.getpid(), process_start="1")  # our pid, another start
    _, broken = acquire(str(tmp_path))
    assert broken is not None


def test_a_lease_from_another_machine_needs_break_lock(tmp_path, capsys):
    _write_lease(tmp_path, host="elsewhere.example", pid=1, process_start=None)
    from polymix.run_lock import OutputLocked

    with pytest.raises(OutputLocked, match="--break-lock"):
        acquire(str(tmp_path))
    _, broken = acquire(str(tmp_path), break_lock=True)
    assert broken is not None and broken.host == "elsewhere.example"
