"""Refusals that need no pipeline: bad output locations, unsafe source names, a lost lock."""

import shutil

import pytest
import yaml

from polymix.cli import main
from polymix.core.config import ConfigError, load_config, parse_config
from polymix.corpus_run import prepare
from polymix.run_lock import LEASE_NAME, OutputLocked, acquire
from polymix.run_output import STAGING, claim_slot, clear_staging, publish
from tests.support.run_layout import small_slot


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


def test_a_run_that_lost_its_lock_publishes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(
        '{"schema_version": 3, "config_hash": "old", "data": "data-a"}'
    )
    before = (out / "manifest.json").read_bytes()
    lease, _ = acquire(str(out))
    claim_slot(str(out), "data-b")
    manifest = small_slot(out / "data-b", "new")
    (out / LEASE_NAME).write_bytes(lease.to_bytes().replace(lease.run_id.encode(), b"other"))
    with pytest.raises(OutputLocked, match="lost its lock"):
        publish(str(out), lease, "data-b", manifest)
    assert (out / "manifest.json").read_bytes() == before


def test_report_renders_left_by_stopped_runs_are_reported_and_removed(tmp_path):
    out = tmp_path / "out"
    (out / STAGING / "report-deadbeef" / "new").mkdir(parents=True)
    (out / STAGING / "report-deadbeef" / "new" / "index.html").write_bytes(b"half")
    notices = clear_staging(str(out))
    assert len(notices) == 1 and "report-deadbeef" in notices[0]
    assert not (out / STAGING).exists()
