"""A (2,2,2) data x model x expert mesh on 8 CPU devices trains like one device.

Also with gradient accumulation over two microbatches, which must give the same update.
Losses alone cannot show a wrongly scaled gradient (clipping to norm 1 and Adam's
m / sqrt(v) are both blind to scale), so the gradient norm before clipping is compared
at every step too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.train_corpus import TINY, write_text_corpus

ROOT = Path(__file__).resolve().parents[2]

# The device count is fixed when jax starts, hence a fresh process.
SCRIPT = """
import json, sys
from polymix.trainer.config import TrainConfig, apply_overrides
from polymix.trainer.loop import train
from polymix.trainer.metrics import read_metrics
import jax

assert jax.device_count() == 8, jax.devices()
overrides, base = json.loads(sys.argv[2]), sys.argv[3]
out = {}
for mesh, accum in (("1,1,1", 1), ("2,2,2", 1), ("2,2,2", 2)):
    cfg = apply_overrides(TrainConfig(), [*overrides, f"mesh={mesh}", f"grad_accum={accum}"])
    train(cfg, sys.argv[1], f"{base}/{mesh}-{accum}")
    out[f"{mesh}/{accum}"] = [(r["loss"], r["grad_norm"]) for r in read_metrics(f"{base}/{mesh}-{accum}")]
print("LOSSES " + json.dumps(out))
"""


def test_sharded_mesh_matches_one_device(tmp_path: Path) -> None:
    manifest = write_text_corpus(tmp_path / "data")
    env = dict(os.environ)
    env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    env["PYTHONPATH"] = str(ROOT)
    overrides = [*TINY, "steps=3", "checkpoint_every=100", "warmup_steps=0"]
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(manifest), json.dumps(overrides), str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("LOSSES "))
    runs = {k: np.array(v) for k, v in json.loads(line[len("LOSSES ") :]).items()}
    one = runs["1,1,1/1"]
    assert one.shape == (3, 2) and np.all(np.isfinite(one))
    np.testing.assert_allclose(runs["2,2,2/1"], one, rtol=2e-5)
    # Two microbatches of 4 rows make the same update as one batch of 8, except that the
    # MoE balance loss is a product of means taken per microbatch (as in any accumulation).
    accum = runs["2,2,2/2"]
    np.testing.assert_allclose(accum[:, 0], one[:, 0], rtol=1e-4)
    assert accum[0, 1] == pytest.approx(one[0, 1], rel=1e-5)  # the same gradient at step 1
    np.testing.assert_allclose(accum[:, 1], one[:, 1], rtol=1e-2)  # then nearly the same path
