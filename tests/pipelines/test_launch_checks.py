"""Refusals that need no pipeline: bad output locations, unsafe source names, a lost lock."""

import shutil

import pytest
import yaml

from polymix.cli import main
from polymix.core.config import ConfigError, load_config, parse_config
from polymix.corpus_run import prepare
from polymix.run_lock import LEASE_NAME, OutputLocked, acquire
from polymix.run_output import MARKER, STAGING, clean_leftovers, publish, staging_folder


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_an_output_that_is_a_file_is_refused(sample_corpus, tmp_path, capsys):
    config, _ = sample_corpus
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    assert main(["run", str(config), "--output", str(a_file)]) == 2
    assert f"{a_file} is a file, not a folder" in one_line_error(capsys)
    assert main(["run", str(config), "--output", str(a_file / "sub")]) == 2
    assert f"{a_file} is a file, not a folder" in one_line_error(capsys)
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("name", ["..", ".", "a/b", "web\u00e9", ""])
def test_source_names_that_would_leave_their_folders_are_refused(name):
    raw = {"sources": [{"name": name, "modality": "text", "paths": ["x"], "format": "jsonl"}]}
    with pytest.raises(ConfigError, match=r"sources\[0\].*name: .*ASCII letters"):
        parse_config(raw)


def test_config_hash_is_the_same_from_another_folder(sample_corpus, tmp_path):
    config_path, _ = sample_corpus
    copy = tmp_path / "elsewhere" / "corpus"
    shutil.copytree(config_path.parent, copy)
    hashes = [
        prepare(
            load_config(path), str(tmp_path / f"out{i}"), overwrite=False, dry_run=True
        ).job.facts.config_hash
        for i, path in enumerate([config_path, copy / "polymix.yaml"])
    ]
    assert hashes[0] == hashes[1]
    raw = yaml.safe_load((copy / "polymix.yaml").read_text())
    raw["seed"] = 1
    changed = parse_config(raw, base_dir=str(copy)).fingerprint()
    assert changed != hashes[0]


def _staged_run(out):
    lease, _ = acquire(str(out))
    staging = staging_folder(str(out), lease.run_id)
    (out / STAGING / lease.run_id / "shards").mkdir(parents=True)
    (out / STAGING / lease.run_id / "shards" / "a").write_bytes(b"new")
    (out / STAGING / lease.run_id / "manifest.json").write_text("{}")
    return lease, staging


def test_a_run_that_lost_its_lock_publishes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    lease, _ = _staged_run(out)
    (out / LEASE_NAME).write_bytes(lease.to_bytes().replace(lease.run_id.encode(), b"other"))
    with pytest.raises(OutputLocked, match="lost its lock"):
        publish(str(out), lease)
    assert not (out / "shards").exists() and not (out / "manifest.json").exists()
    assert not (out / MARKER).exists()


def test_staging_left_by_a_dead_run_is_reported_and_removed(tmp_path):
    out = tmp_path / "out"
    (out / STAGING / "deadbeef" / "shards").mkdir(parents=True)
    (out / STAGING / "deadbeef" / "shards" / "part.tmp-123").write_bytes(b"half")
    (out / STAGING / "finished1").mkdir()
    (out / STAGING / "finished1" / ".polymix-finished").write_bytes(b"")
    notices = clean_leftovers(str(out), keep="mine")
    assert [("deadbeef" in n, "before publishing" in n) for n in notices] == [
        (True, True),
        (False, False),
    ]
    assert "finished1, which stopped while publishing" in notices[1]
    assert not (out / STAGING / "deadbeef").exists() and not (out / STAGING / "finished1").exists()
