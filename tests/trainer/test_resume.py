"""Bit-exact resume: N steps + resume N == 2N steps, also after a SIGTERM mid-run."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from polymix.trainer.checkpoint import Checkpoints
from polymix.trainer.loop import train
from polymix.trainer.metrics import read_metrics
from polymix.trainer.preflight import PreflightError
from tests.trainer.train_corpus import share_compilation_cache, tiny_config, write_text_corpus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("resume")
    env = share_compilation_cache()
    manifest = write_text_corpus(base / "data")
    full = train(tiny_config(), manifest, base / "full")
    return {"base": base, "manifest": manifest, "env": env, "full": full}


def _assert_same_params(a, b) -> None:
    leaves_a, leaves_b = jax.tree.leaves(a["params"]), jax.tree.leaves(b["params"])
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _losses(folder: Path) -> list[float]:
    records = read_metrics(folder)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    return [r["loss"] for r in records]


def test_stop_and_resume_is_bit_exact(setup: dict) -> None:
    full, ckpt = setup["full"], setup["base"] / "halves"
    first = train(tiny_config("steps=4"), setup["manifest"], ckpt)
    assert first.checkpoint_step == 4
    second = train(tiny_config(), setup["manifest"], ckpt, resume=True)
    assert second.start_step == 4 and second.final_step == 8
    assert first.losses + second.losses == full.losses  # exact, not approximate
    _assert_same_params(second.state, full.state)
    assert _losses(ckpt) == full.losses  # metrics.jsonl appended across the resume
    assert full.losses[-1] < full.losses[0]


SCRIPT = """
import json, signal, sys, time
from polymix.trainer.config import TrainConfig, apply_overrides
from polymix.trainer.checkpoint import Checkpoints
from polymix.trainer.loop import train

def slow(step, batch):
    time.sleep(0.4)
    return batch

cfg = apply_overrides(TrainConfig(), json.loads(sys.argv[3]))
result = train(cfg, sys.argv[1], sys.argv[2], batch_hook=slow)
sys.exit(128 + signal.Signals[result.stopped_by] if result.stopped_by else 0)
"""


def test_sigterm_leaves_a_checkpoint_that_resumes_exactly(setup: dict) -> None:
    from tests.trainer.train_corpus import TINY

    ckpt = setup["base"] / "sigterm"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(setup["manifest"]), str(ckpt), json.dumps(TINY)],
        cwd=ROOT,
        env={**setup["env"], "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    while len(read_metrics(ckpt)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, output
    stopped = len(read_metrics(ckpt))
    assert 2 <= stopped < 8, output
    assert (ckpt / str(stopped) / "commit_success.txt").exists() or (ckpt / str(stopped)).is_dir()
    resumed = train(tiny_config(), setup["manifest"], ckpt, resume=True)
    assert resumed.start_step == stopped
    assert _losses(ckpt) == setup["full"].losses
    _assert_same_params(resumed.state, setup["full"].state)


def test_existing_checkpoints_need_resume(setup: dict) -> None:
    with pytest.raises(PreflightError, match="--resume"):
        train(tiny_config(), setup["manifest"], setup["base"] / "full")


def test_resume_refuses_changed_settings(setup: dict) -> None:
    with pytest.raises(PreflightError, match="peak_lr"):
        train(tiny_config("peak_lr=0.5"), setup["manifest"], setup["base"] / "full", resume=True)


def test_keeps_last_k_checkpoints(setup: dict) -> None:
    ckpt = setup["base"] / "keep"
    train(
        tiny_config("checkpoint_every=1", "keep_checkpoints=2", "steps=5"), setup["manifest"], ckpt
    )
    steps = sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit())
    assert steps == [4, 5]
    assert not [p for p in ckpt.iterdir() if "tmp" in p.name]


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _largest_array_file(step: Path) -> Path:
    return max((step / "state").rglob("d/*"), key=lambda p: p.stat().st_size)


DAMAGE = {
    "truncated_array_file": lambda step: _truncate(_largest_array_file(step)),
    "empty_loader_state": lambda step: (step / "loader" / "process_0-of-1.json").write_bytes(b""),
    "truncated_metadata": lambda step: _truncate(step / "meta" / "metadata"),
    "truncated_array_metadata": lambda step: _truncate(step / "state" / "_METADATA"),
}
NAMED = {  # what the one line says is wrong
    "truncated_array_file": "arrays do not restore: OUT_OF_RANGE",
    "empty_loader_state": "loader/process_0-of-1.json is not valid JSON",
    "truncated_metadata": "meta/metadata is not valid JSON",
    "truncated_array_metadata": "state/_METADATA is not valid JSON",
}


def _copy_of_full_run(setup: dict, folder: Path) -> Path:
    """The 8-step run's checkpoint folder (steps 4 and 8), copied so it can be damaged."""
    shutil.copytree(setup["base"] / "full", folder)
    return folder


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(
    setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture, damage: str
) -> None:
    ckpt = _copy_of_full_run(setup, tmp_path / "ckpt")
    DAMAGE[damage](ckpt / "8")
    resumed = train(tiny_config(), setup["manifest"], ckpt, resume=True)
    assert resumed.start_step == 4 and resumed.final_step == 8
    assert resumed.losses == setup["full"].losses[4:]  # bit-exact from step 4
    _assert_same_params(resumed.state, setup["full"].state)
    warning = [line for line in capsys.readouterr().err.splitlines() if " is damaged " in line]
    assert len(warning) == 1 and "checkpoint step 8" in warning[0], warning
    assert "resuming from step 4" in warning[0] and NAMED[damage] in warning[0]
    assert (ckpt / "8.damaged").is_dir()  # kept for inspection, out of orbax's view
    assert sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) == [4, 8]
    assert Checkpoints(ckpt, 3).inspect(8) is None  # the new step 8 is whole


@pytest.mark.parametrize("damage", ["truncated_array_file", "empty_loader_state"])
def test_damaged_only_checkpoint_is_one_line_naming_the_step(
    setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture, damage: str
) -> None:
    from polymix.cli import main
    from tests.trainer.train_corpus import TINY

    ckpt = _copy_of_full_run(setup, tmp_path / "ckpt")
    shutil.rmtree(ckpt / "8")
    DAMAGE[damage](ckpt / "4")
    args = ["train", "--manifest", str(setup["manifest"]), "--checkpoint-dir", str(ckpt)]
    assert main([*args, "--resume", *TINY]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("polymix train: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "checkpoint step 4" in errors[0] and f"remove {ckpt / '4'}" in errors[0]
    assert NAMED[damage] in errors[0]
    assert (ckpt / "4").is_dir()  # nothing moved when there is nothing to fall back to


def test_extending_a_run_keeps_its_schedule(setup: dict) -> None:
    """4 steps with decay_steps unset fix the schedule at 4; resuming to 8 continues that
    schedule (at the floor rate after step 4), bit for bit what 8 steps straight on that
    schedule give, and not what an 8-step schedule would."""
    ckpt = setup["base"] / "extended"
    first = train(tiny_config("steps=4", "decay_steps=0"), setup["manifest"], ckpt)
    second = train(tiny_config("steps=8", "decay_steps=0"), setup["manifest"], ckpt, resume=True)
    straight = train(tiny_config("decay_steps=4"), setup["manifest"], setup["base"] / "straight")
    assert first.losses + second.losses == straight.losses
    lrs = [r["lr"] for r in read_metrics(ckpt)]
    assert lrs == [r["lr"] for r in read_metrics(setup["base"] / "straight")]
    assert lrs[4:] == [pytest.approx(1e-2 * 0.1)] * 4  # peak_lr * lr_floor_ratio
    assert straight.losses != setup["full"].losses  # the 8-step schedule trains otherwise


def test_resume_refuses_another_schedule_length_naming_decay_steps(setup: dict) -> None:
    with pytest.raises(PreflightError, match=r"decay_steps=16: .* fixed at decay_steps=8"):
        train(tiny_config("decay_steps=16"), setup["manifest"], setup["base"] / "full", resume=True)
