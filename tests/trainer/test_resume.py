"""Bit-exact resume: N steps + resume N == 2N steps, also after a SIGTERM mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

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
