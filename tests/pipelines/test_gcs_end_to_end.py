"""A whole `polymix run` on gs:// (a real GCS emulator): inputs, models, outputs, a previous
run replaced, a run killed mid-way, `verify` and `report`, and the bytes of a local run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.pipelines import object_store
from polymix.pipelines.file_io import read_bytes, write_bytes
from polymix.run_lock import LEASE_NAME
from polymix.run_output import STAGING
from polymix.slot_deletion import SLOT_MARKER
from tests.pipelines.test_filesystems import local_files, remote_files
from tests.support.gcs_emulator import BUCKET

pytestmark = pytest.mark.slow
ROOT = f"gs://{BUCKET}/e2e"
OUT = f"{ROOT}/out"
REPO = Path(__file__).resolve().parents[2]


def upload_corpus(corpus: Path) -> str:
    """The corpus with its config, tokenizer and classifier on gs://; the config's gs:// path.

    The config is the local run's file, unchanged: its relative paths resolve in the bucket.
    """
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            write_bytes(f"{ROOT}/corpus/{path.relative_to(corpus)}", path.read_bytes())
    return f"{ROOT}/corpus/polymix.yaml"


def kill_mid_run(config: str) -> None:
    """Start a run in another process and SIGKILL it once it has written into its slot."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "polymix.cli", "run", str(config), "--output", OUT]
    run = subprocess.Popen(
        [*command, "--overwrite"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not [p for p in object_store.list_files(f"{OUT}/data-b") if SLOT_MARKER not in p]:
        assert run.poll() is None and time.monotonic() < deadline, "the run ended too early"
        time.sleep(0.5)
    run.send_signal(signal.SIGKILL)
    run.wait()


@pytest.fixture(scope="module")
def gcs_run(sample_corpus, gcs):
    """Run, add foreign and stale objects, kill a second run, then a third with --overwrite."""
    config_path, _ = sample_corpus
    config = upload_corpus(config_path.parent)
    assert main(["run", str(config), "--output", OUT]) == 0
    write_bytes(f"{OUT}/notes.txt", b"not polymix's")
    write_bytes(f"{OUT}/data-a-notes/keep.txt", b"a sibling prefix, not data-a/")
    stale = f"{OUT}/data-a/shards/web/web-00007-of-00009.array_record.tmp-0d1e"
    write_bytes(stale, b"a killed worker's temporary file, in no index")
    kill_mid_run(config)
    assert object_store.is_file(f"{OUT}/{LEASE_NAME}")  # the killed run's lease is still there
    return config, stale


def test_overwrite_on_gcs_clears_the_killed_slot_and_deletes_the_old_one(gcs_run, capsys):
    config, stale = gcs_run
    capsys.readouterr()
    assert main(["run", str(config), "--output", OUT, "--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert "had stopped; took over its lock" in printed
    cleared = [line for line in printed.splitlines() if f"cleared {OUT}/data-b/" in line]
    assert len(cleared) == 1 and "a run that stopped before finishing" in cleared[0]
    assert json.loads(read_bytes(f"{OUT}/manifest.json"))["data"] == "data-b"
    assert object_store.list_files(f"{OUT}/data-a") == []  # stale file included
    assert read_bytes(f"{OUT}/notes.txt") == b"not polymix's"
    assert read_bytes(f"{OUT}/data-a-notes/keep.txt") == b"a sibling prefix, not data-a/"
    assert object_store.list_files(f"{OUT}/{STAGING}") == []
    assert not object_store.is_file(f"{OUT}/{LEASE_NAME}")


def test_report_renders_a_gcs_run(gcs_run, capsys):
    assert main(["report", OUT]) == 0
    assert f"report: {OUT}/report/index.html" in capsys.readouterr().out
    assert b"<html" in read_bytes(f"{OUT}/report/index.html")
    assert object_store.list_files(f"{OUT}/{STAGING}") == []


def test_verify_checks_a_gcs_run(gcs_run):
    assert main(["verify", f"{OUT}/manifest.json"]) == 0


def test_a_gcs_run_holds_the_bytes_of_a_local_run(gcs_run, demo_run):
    """Every object is the local file's bytes, but for the slot's name: the gs:// run replaced
    one, so it wrote data-b; the local run is a fresh output's, in data-a."""
    local = local_files(demo_run)
    remote = {
        name.replace("data-b/", "data-a/", 1) if name.startswith("data-b/") else name: data
        for name, data in remote_files(OUT).items()
        if name != "notes.txt" and not name.startswith("data-a-notes/")
    }
    published = json.loads(remote.pop("manifest.json"))
    assert published == {**json.loads(local.pop("manifest.json")), "data": "data-b"}
    assert sorted(remote) == sorted(local)
    for name, data in local.items():
        assert remote[name] == data, name
