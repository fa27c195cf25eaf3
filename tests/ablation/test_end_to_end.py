"""The known answer with the real trainer: a sweep whose objective is one source's
held-out loss picks more of that source than the plan, and a model trained by
`polymix train` on the pick beats the uniform and planned mixtures on it at the same budget.

These need the trainer's held-out evaluation (`mixture=`, `eval_every`, `eval_batches`
keys; `eval/<source>/loss` in metrics.jsonl); they are skipped until the trainer has it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polymix.ablation.runner import mixture_text
from polymix.cli import main
from polymix.trainer.config import TrainConfig
from polymix.trainer.metrics import read_metrics
from tests.ablation.corpus import write_sources

ROOT = Path(__file__).resolve().parents[2]
EVALUATES = {"mixture", "eval_every", "eval_batches"} <= set(TrainConfig.model_fields)
needs_evaluation = pytest.mark.skipif(
    not EVALUATES, reason="the trainer has no held-out evaluation (eval_every, mixture) yet"
)
PLANNED = {"counting": 0.2, "noise": 0.8}
STEPS = 60
SWEEP = ["--proxies", "8", "--steps", str(STEPS), "--seed", "0", "--folds", "4"]
TRAIN = ["seed=0", "global_batch_size=8", "eval_every=0", "eval_batches=4", "warmup_steps=6"]
TRAIN += [
    "peak_lr=3e-3",
    "progress=false",
    "plot=false",
    "peak_tflops=1",
    f"checkpoint_every={STEPS}",
]


def held_out_loss(manifest: Path, folder: Path, weights: dict[str, float]) -> float:
    """`polymix train` on `weights` with the proxies' budget; its final held-out loss on counting."""
    argv = ["train", "--manifest", str(manifest), "--model", "tiny", "--steps", str(STEPS)]
    argv += ["--checkpoint-dir", str(folder), f"mixture={mixture_text(weights)}", *TRAIN]
    assert main(argv) == 0
    last = [r for r in read_metrics(folder) if "eval/counting/loss" in r][-1]
    return float(last["eval/counting/loss"])


@pytest.mark.slow
@needs_evaluation
def test_the_chosen_mixture_trains_the_objectives_source_best(tmp_path: Path) -> None:
    manifest = write_sources(tmp_path / "corpus", PLANNED, records=400, eval_records=32)
    output = tmp_path / "ablation"
    argv = ["ablate", "--manifest", str(manifest), "--output", str(output), *SWEEP]
    assert main([*argv, "--objective", "counting=1"]) == 0
    result = json.loads((output / "ablation.json").read_text())
    chosen = result["chosen"]["weights"]
    assert chosen["counting"] > PLANNED["counting"]
    assert len(result["proxies"]) == 8
    losses = {
        name: held_out_loss(manifest, tmp_path / name, weights)
        for name, weights in (
            ("chosen", chosen),
            ("uniform", {"counting": 0.5, "noise": 0.5}),
            ("planned", PLANNED),
        )
    }
    assert losses["chosen"] < losses["uniform"], losses
    assert losses["chosen"] < losses["planned"], losses


@pytest.mark.slow
@needs_evaluation
def test_a_killed_sweep_continues_with_the_proxies_not_done(tmp_path: Path) -> None:
    manifest = write_sources(tmp_path / "corpus", PLANNED, records=200, eval_records=16)
    output = tmp_path / "ablation"
    command = [sys.executable, "-m", "polymix.cli", "ablate", "--manifest", str(manifest)]
    command += ["--output", str(output), "--proxies", "4", "--steps", "20", "--folds", "2"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = output / "proxies" / "00000" / "result.json"
    deadline = time.monotonic() + 400
    while not done.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done.exists(), first.communicate()
    first.send_signal(signal.SIGTERM)  # inside a proxy's training (130) or between two
    assert first.wait(timeout=120) in (130, -signal.SIGTERM)
    kept = done.stat().st_mtime_ns
    assert not (output / "ablation.json").exists()
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "proxy 1/4" not in again.stdout  # the finished one was not trained again
    assert done.stat().st_mtime_ns == kept
    result = json.loads((output / "ablation.json").read_text())
    assert [p["index"] for p in result["proxies"]] == [0, 1, 2, 3]
