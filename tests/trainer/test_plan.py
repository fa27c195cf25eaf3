"""`polymix plan` against what it predicts: XLA's compiled step, the trainer's shardings,
the reference pod.

The memory model is checked against XLA's buffer assignment of the real compiled train
step (`benchmarks/plan_vs_xla.py`), not against a re-derivation of its own formulas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.model.config import get_config
from polymix.trainer.chips import CHIPS, Chip
from polymix.trainer.plan import make_plan
from polymix.trainer.plan_memory import PlanMesh, memory, sharded_param_elements

ROOT = Path(__file__).resolve().parents[2]
TINY = get_config("tiny")
TOTAL, EXPERTS, NORMS = 121_792, 49_152, 320  # tiny by hand (tests/model/test_model_config.py)
# tiny's one MoE layer's routing state (bias [4], router centre [64]): held, whole, like norms
ROUTING = 4 + 64


def test_one_configuration_within_15_percent_of_xla() -> None:
    """tiny widened to d_model 128, blockwise, one device: plan / XLA within 15%."""
    from benchmarks.plan_vs_xla import QUICK, plan_bytes, xla_bytes

    (case,) = QUICK
    ratio = plan_bytes(*case) / xla_bytes(*case)
    assert 0.85 < ratio < 1.15, ratio


@pytest.mark.slow
def test_every_calibration_configuration_within_15_percent_of_xla() -> None:
    """Nine configurations (presets, depths, vocabularies, remat, accumulation, and meshes
    with model, expert, fsdp and context axes on 8 devices)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = ROOT / "benchmarks" / "plan_vs_xla.py"
    out = subprocess.run(
        [sys.executable, str(script), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)
    assert len(rows) == 9
    for row in rows:
        assert 0.85 < row["ratio"] < 1.15, row


def test_param_elements_per_chip_follow_the_sharding_table() -> None:
    assert sharded_param_elements(TINY, PlanMesh(1, 1, 1, 1)) == TOTAL + ROUTING
    # expert axis 2 splits only the experts
    assert sharded_param_elements(TINY, PlanMesh(2, 1, 1, 2)) == TOTAL + ROUTING - EXPERTS / 2
    # fsdp 2 splits every matrix's embed dimension (norms have none) and the experts too
    expected = (TOTAL - NORMS - EXPERTS) / 2 + EXPERTS / 4 + NORMS + ROUTING
    assert sharded_param_elements(TINY, PlanMesh(1, 2, 1, 2)) == expected


def test_accumulation_adds_an_accumulator_and_matches_xla() -> None:
    """The accumulator is one float32 copy of tiny's 121,792 parameters; the whole step
    with two microbatches (a smaller activation share, one more buffer) against XLA's."""
    from benchmarks.plan_vs_xla import WIDE_TINY, plan_bytes, xla_bytes

    assert memory(TINY, PlanMesh(1, 1, 1, 1), 32, 16).grad_accumulator == 0
    two = memory(TINY, PlanMesh(1, 1, 1, 1), 32, 16, microbatches=2)
    assert two.grad_accumulator == (TOTAL + ROUTING) * 4
    case = ("tiny", WIDE_TINY, (1, 1, 1), 16, 64, 2)
    ratio = plan_bytes(*case) / xla_bytes(*case)
    assert 0.85 < ratio < 1.15, ratio


def test_the_reference_pod_fits_with_ten_percent_free_at_8k_and_at_32k() -> None:
    """1024 TPU v4, 90B: the proposed configuration leaves >= 10% of HBM free; at 32k
    positions it needs (and gets) the context axis."""
    cfg = get_config("gemini-pro-90b")
    v4 = CHIPS["tpu-v4"]
    for seq_len in (8192, 32768):
        plan = make_plan(cfg, chips=1024, chip=v4, tokens=2e12, mfu=0.4, seq_len=seq_len)
        assert plan.fits and plan.free_fraction >= 0.10, (seq_len, plan.memory)
        assert plan.mesh.size == 1024
        assert plan.hfu > plan.mfu  # remat and capacity slots: more executed than modelled
    assert plan.mesh.context > 1


def test_communication_follows_the_mesh() -> None:
    cfg = get_config("demo")
    chip = Chip("toy", 1.0, 1.0, link_gb_s=100)
    alone = make_plan(cfg, chips=8, chip=chip, tokens=1e9, mfu=0.5, mesh=PlanMesh(8, 1, 1, 1))
    assert alone.comms.moe_all_to_all == 0 and alone.comms.tensor_all_reduce == 0
    assert alone.comms.gradient_all_reduce > 0  # data parallel: gradients are summed
    split = make_plan(cfg, chips=8, chip=chip, tokens=1e9, mfu=0.5, mesh=PlanMesh(2, 1, 2, 2))
    assert split.comms.moe_all_to_all > 0 and split.comms.tensor_all_reduce > 0
    assert split.comm_time_s == pytest.approx(split.comms.total() / 100e9)


def test_plan_command(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["plan", "--model", "gemini-pro-90b", "--chips", "1024", "--tokens", "2T"]
    assert main([*args, "--seq-len", "32768"]) == 0
    text = capsys.readouterr().out
    assert "1024 x tpu-v4 (32 GB HBM, 275 bf16 TFLOP/s" in text and "2.5 months" in text
    assert "DOES NOT FIT" not in text and "HFU" in text and "MoE all-to-all" in text
    assert main([*args, "--mesh", "4,16,1,16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mesh"] == {"data": 4, "fsdp": 16, "context": 1, "model": 1, "expert": 16}
    assert out["hfu"] > out["mfu"] and out["memory_bytes"]["total"] > 0


def test_plan_command_errors(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["plan", "--model", "tiny", "--chips", "8", "--tokens", "1e9"]
    assert main([*base, "--chip", "abacus"]) == 2
    assert "unknown chip 'abacus'" in capsys.readouterr().err
    assert main([*base, "--mesh", "2,2"]) == 2
    assert "--mesh '2,2'" in capsys.readouterr().err
