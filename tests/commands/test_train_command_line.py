"""`polymix train`: every trainer key in `--help`, the run first like `verify`, `--json`."""

from __future__ import annotations

import json
import re

import pytest

from polymix.cli import main
from polymix.commands._train_keys import MODEL_FIELD
from polymix.trainer.config import TrainConfig, apply_overrides
from polymix.trainer.loop import TrainResult


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return capsys.readouterr().out


def test_help_lists_every_trainer_key_with_a_default_that_parses_back_and_a_meaning(capsys):
    text = _help(capsys)
    keys = text.split("trainer keys", 1)[1]
    for name, field in TrainConfig.model_fields.items():
        if name == MODEL_FIELD:
            assert re.search(r"^  model\.<field>=value +\S", keys, re.M)
            continue
        line = re.search(rf"^  {name}=(\S*)( +(.*))?$", keys, re.M)
        assert line, f"{name} is not in `polymix train --help`"
        assert (line.group(3) or "").strip(), f"{name} has no meaning in the help"
        typed = apply_overrides(TrainConfig(), [f"{name}={line.group(1)}"])
        assert getattr(typed, name) == field.default, name


class _Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, cfg, manifest, checkpoint_dir, resume=False):
        self.calls.append((cfg, manifest, checkpoint_dir))
        print("step 1 of 2 ...")  # what a run says while it trains
        return TrainResult(0, 2, 0, None, 2, [2.5, 2.25])


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "out/run", "peak_lr=3e-3", "--output", "ckpt"],
        ["train", "--manifest", "out/run", "peak_lr=3e-3", "--checkpoint-dir", "ckpt"],
        ["train", "peak_lr=3e-3", "--manifest", "out/run", "--output", "ckpt"],
        ["train", "out/run", "--output", "ckpt", "peak_lr=3e-3"],
        ["train", "out/run", "--output", "ckpt", "--steps", "4", "peak_lr=3e-3"],
    ],
)
def test_the_run_comes_first_and_the_old_flags_still_work(monkeypatch, capsys, argv):
    recorded = _Recorded()
    monkeypatch.setattr("polymix.trainer.loop.train", recorded)
    monkeypatch.setattr("polymix.trainer.distributed.ensure_distributed", lambda *a: None)
    assert main(argv) == 0
    cfg, manifest, checkpoint_dir = recorded.calls[0]
    assert (manifest, checkpoint_dir, cfg.peak_lr) == ("out/run", "ckpt", 3e-3)
    assert capsys.readouterr().err == ""  # no deprecation chatter


def test_an_unknown_flag_after_the_keys_is_still_refused(capsys):
    assert main(["train", "out/run", "--output", "ckpt", "seed=1", "--stpes", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stpes" in err[0]


def test_a_missing_run_is_one_line(capsys):
    assert main(["train", "peak_lr=3e-3", "--output", "ckpt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "OUT/manifest.json" in err[0]


def test_json_is_the_only_thing_on_stdout(monkeypatch, capsys):
    monkeypatch.setattr("polymix.trainer.loop.train", _Recorded())
    monkeypatch.setattr("polymix.trainer.distributed.ensure_distributed", lambda *a: None)
    assert main(["train", "out/run", "--output", "ckpt", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["steps"] == 2 and summary["last_loss"] == 2.25
    assert "step 1 of 2" in captured.err


def test_the_table_is_generated_not_copied(monkeypatch, capsys):
    class Wider(TrainConfig):
        warmup_shape: str = "linear"  # how the warm-up ramps

    monkeypatch.setattr("polymix.trainer.config.TrainConfig", Wider)
    from polymix.commands._train_keys import keys_help

    table = keys_help()
    assert re.search(r"^  warmup_shape=linear +how the warm-up ramps$", table, re.M)
    assert re.search(r"^  seed=0 +parameter initialization", table, re.M)
