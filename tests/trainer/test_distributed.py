"""Multi-process settings: where they come from, and one clear line when they are wrong."""

from __future__ import annotations

import pytest

from polymix.cli import main
from polymix.trainer.distributed import DistributedError, _settings, ensure_distributed


def test_no_settings_and_no_cluster_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLYMIX_COORDINATOR", "POLYMIX_PROCESS_ID", "POLYMIX_NUM_PROCESSES"):
        monkeypatch.delenv(name, raising=False)
    assert _settings(None, None, None) is None
    assert ensure_distributed() == 1


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYMIX_COORDINATOR", "env:1")
    monkeypatch.setenv("POLYMIX_PROCESS_ID", "1")
    monkeypatch.setenv("POLYMIX_NUM_PROCESSES", "2")
    assert _settings(None, None, None) == ("env:1", 1, 2)
    assert _settings("flag:2", 3, 4) == ("flag:2", 3, 4)


def test_incomplete_settings_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYMIX_COORDINATOR", "host:1234")
    monkeypatch.delenv("POLYMIX_PROCESS_ID", raising=False)
    monkeypatch.delenv("POLYMIX_NUM_PROCESSES", raising=False)
    with pytest.raises(DistributedError, match="POLYMIX_PROCESS_ID, POLYMIX_NUM_PROCESSES"):
        _settings(None, None, None)
    with pytest.raises(DistributedError, match="go together"):
        _settings("host:1", 0, None)
    with pytest.raises(DistributedError, match=r"--process-id 4 is not in \[0, 4\)"):
        _settings("host:1", 4, 4)


def test_train_command_reports_bad_flags_in_one_line(tmp_path, capsys) -> None:
    args = ["train", "--manifest", str(tmp_path / "m.json"), "--checkpoint-dir", str(tmp_path)]
    assert main([*args, "--process-id", "0"]) == 2
    err = capsys.readouterr().err
    assert "go together" in err and "Traceback" not in err
