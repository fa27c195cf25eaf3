"""Several real processes on localhost (JAX's CPU backend over gloo) train one run.

- 2 processes (one device each) give bit for bit the losses of one process with 2
  devices fed the same global batches, also when a SIGTERM to one of them stops both
  at the same step and a resume finishes the run;
- 4 processes give the losses of one process on the same global batches, and a SIGTERM
  to one of them stops all four at one step with one checkpoint.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from polymix.trainer.metrics import read_metrics
from tests.trainer.train_corpus import TINY, share_compilation_cache, write_text_corpus

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("multiprocess_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(n: int, manifest: Path, ckpt: Path, overrides: list[str], *flags: str, devices=1):
    env = {**share_compilation_cache(), "PYTHONPATH": str(ROOT)}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    port = _free_port()
    procs = []
    for i in range(n):
        if n > 1:
            env = {**env, "POLYMIX_COORDINATOR": f"127.0.0.1:{port}"}
            env.update(POLYMIX_PROCESS_ID=str(i), POLYMIX_NUM_PROCESSES=str(n))
        command = [sys.executable, str(WORKER), str(manifest), str(ckpt), json.dumps(overrides)]
        procs.append(
            subprocess.Popen(
                [*command, *flags],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    return procs


def _finish(procs, timeout: float = 600) -> list[tuple[int, str]]:
    out = []
    for proc in procs:
        text, _ = proc.communicate(timeout=timeout)
        out.append((proc.returncode, text))
    return out


def _signal_after(procs, ckpt: Path, steps: int, which: int) -> None:
    deadline = time.monotonic() + 400
    while len(read_metrics(ckpt)) < steps and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), "a process ended early"
        time.sleep(0.05)
    procs[which].send_signal(signal.SIGTERM)


def _checkpoints(ckpt: Path) -> list[int]:
    return sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit())


def _loader_states(ckpt: Path, step: int) -> list[str]:
    return sorted(p.name for p in (ckpt / str(step) / "loader").glob("process_*.json"))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_text_corpus(tmp_path_factory.mktemp("multiprocess") / "data")


CONFIG = [*TINY, "steps=6", "checkpoint_every=100"]


@pytest.mark.slow  # two JAX processes through SIGTERM and resume: ~1.5 min
def test_two_processes_equal_one_bit_for_bit_through_sigterm_and_resume(
    manifest: Path, tmp_path: Path
) -> None:
    reference = _launch(1, manifest, tmp_path / "one", CONFIG, "--compose", "2", devices=2)
    run = _launch(2, manifest, tmp_path / "two", CONFIG, "--slow")
    _signal_after(run, tmp_path / "two", 2, which=1)
    stopped = _finish(run)
    assert [code for code, _ in stopped] == [128 + signal.SIGTERM] * 2, stopped
    steps = _checkpoints(tmp_path / "two")
    assert len(steps) == 1 and 2 <= steps[0] < 6, steps  # both saved the same step, once
    assert _loader_states(tmp_path / "two", steps[0]) == [
        "process_0-of-2.json",
        "process_1-of-2.json",
    ]
    resumed = _finish(_launch(2, manifest, tmp_path / "two", CONFIG, "--resume"))
    assert [code for code, _ in resumed] == [0, 0], resumed
    assert [code for code, _ in _finish(reference)] == [0]
    two = [r["loss"] for r in read_metrics(tmp_path / "two")]
    one = [r["loss"] for r in read_metrics(tmp_path / "one")]
    assert len(one) == 6 and two == one  # exact: the same program, the same sums


@pytest.mark.slow  # four JAX processes on two cores: ~1.5 min
def test_four_processes_equal_one_and_stop_together(manifest: Path, tmp_path: Path) -> None:
    run = _launch(4, manifest, tmp_path / "four", CONFIG, "--slow")
    # Meanwhile, here: one process, one device, fed what the four feed together.
    from polymix.trainer.config import TrainConfig, apply_overrides
    from polymix.trainer.loop import train
    from tests.trainer.multiprocess_worker import composed

    cfg = apply_overrides(TrainConfig(), CONFIG)
    one = train(cfg, manifest, tmp_path / "one", batch_hook=composed(cfg, str(manifest), 4))
    _signal_after(run, tmp_path / "four", 2, which=2)
    stopped = _finish(run)
    assert [code for code, _ in stopped] == [128 + signal.SIGTERM] * 4, stopped
    steps = _checkpoints(tmp_path / "four")
    assert len(steps) == 1, steps  # all four saved the same step
    assert len(_loader_states(tmp_path / "four", steps[0])) == 4
    four = [r["loss"] for r in read_metrics(tmp_path / "four")]
    assert len(four) == steps[0]
    np.testing.assert_allclose(four, one.losses[: len(four)], rtol=2e-6)
