"""`polymix plan` numbers against hand computations for the `tiny` preset.

tiny: vocab 128, d 64, 2 layers (one MoE, one dense), 8 heads / 4 kv heads of 8,
dense d_ff 128, 4 experts of 64 (top-2, capacity factor 1.25), direct attention,
float32 params and activations. Parameter counts, by hand:

    embeddings 128*64 + 4*64 + 48*64 + 64 + 2*8*64 + 16*64 + 64 + 16*64 = 14,720
    attention  2 * (64*8*8 + 2*64*4*8 + 8*8*64)                          = 24,576
    norms      2 * 2 * 64 + 64                                           =    320
    router     64*4 = 256;  experts 3 * 4*64*64 = 49,152;  dense 3 * 64*128 = 24,576
    head       64*128                                                    =  8,192
    total                                                                = 121,792
"""

from __future__ import annotations

import json

import pytest

from polymix.cli import main
from polymix.model.config import get_config
from polymix.trainer.chips import Chip
from polymix.trainer.plan import REFERENCE_DAYS, Mesh4, make_plan, memory, sharded_param_elements

TINY = get_config("tiny")
TOTAL, EXPERTS, NORMS = 121_792, 49_152, 320
# Saved activations per token (elements), direct attention over 32 positions:
#   attention: 2*64 + 2*8*8 (q, context) + 2*4*8 (k, v) + 8*32 (scores)  = 576
#   MoE ffn:   2*64 + 2*4 (router) + 2.5 slots * (2*64 + 3*64) + 2*64     = 1064
#   dense ffn: 2*64 + 3*128                                                 = 512
PER_UNIT = 576 + 1064 + 576 + 512
LOGIT_BYTES = 128 * (4 + 4 + 4)  # per token: logits, float32 copy, log-softmax


def test_param_elements_per_chip() -> None:
    assert sharded_param_elements(TINY, Mesh4(1, 1, 1, 1)) == TOTAL
    # expert axis 2 splits only the experts
    assert sharded_param_elements(TINY, Mesh4(2, 1, 1, 2)) == TOTAL - EXPERTS / 2
    # fsdp 2 splits every matrix's embed dimension (norms have none) and the experts too
    expected = (TOTAL - NORMS - EXPERTS) / 2 + EXPERTS / 4 + NORMS
    assert sharded_param_elements(TINY, Mesh4(1, 2, 1, 2)) == expected


def test_memory_per_chip() -> None:
    mem = memory(TINY, Mesh4(2, 1, 1, 2), seq_len=32, global_batch=8)
    elements = TOTAL - EXPERTS / 2
    assert mem.params == 4 * elements
    assert mem.optimizer == 8 * elements
    assert mem.grads == 4 * elements
    tokens = 8 * 32 / 4  # rows split over data * expert
    assert mem.logits == tokens * LOGIT_BYTES
    assert mem.activations == tokens * PER_UNIT * 4 + tokens * LOGIT_BYTES
    assert mem.activations_remat == tokens * (64 + PER_UNIT) * 4 + tokens * LOGIT_BYTES
    half = memory(TINY, Mesh4(2, 1, 1, 2), seq_len=32, global_batch=8, microbatches=2)
    assert half.activations == mem.activations / 2


def test_proposal_adds_fsdp_when_replicas_do_not_fit() -> None:
    # 8 chips: experts spread 4 ways. (2,1,1,4) needs 16*84,928 + 32*(2728*4 + 1536) bytes
    # = 1,757,184; (1,2,1,4) needs 16*42,624 + 398,336 = 1,080,320. Usable: 85% of 1.5 MB.
    chip = Chip("toy", hbm_gb=1.5e-3, bf16_tflops=1.0)
    plan = make_plan(TINY, chips=8, chip=chip, tokens=1e9, mfu=0.5, seq_len=32, global_batch=8)
    assert plan.fits
    assert plan.mesh == Mesh4(1, 2, 1, 4) and not plan.remat and plan.microbatches == 1
    assert plan.memory.total(False) == 16 * 42_624 + 32 * (PER_UNIT * 4 + LOGIT_BYTES)
    roomy = make_plan(
        TINY, chips=8, chip=Chip("big", 1.0, 1.0), tokens=1e9, mfu=0.5, seq_len=32, global_batch=8
    )
    assert roomy.mesh == Mesh4(2, 1, 1, 4)
    tight = make_plan(
        TINY, chips=8, chip=Chip("tiny", 1e-5, 1.0), tokens=1e9, mfu=0.5, seq_len=32, global_batch=8
    )
    assert not tight.fits


def test_time_arithmetic() -> None:
    # Train FLOPs/token (PaLM): active params = total - unused experts (half of 49,152)
    # - media embedders (14,720 - 8,192 - 256); matmul = active - token table.
    matmul = (TOTAL - EXPERTS // 2 - (14_720 - 8_192 - 256)) - 8_192
    train_flops = 3 * (2 * matmul + 4 * 2 * 32 * 8 * 8)
    assert train_flops == 545_664
    chip = Chip("toy", hbm_gb=1.0, bf16_tflops=1.0)
    plan = make_plan(TINY, chips=4, chip=chip, tokens=1e9, mfu=0.5, seq_len=32, global_batch=8)
    machine = 4 * 1e12 * 0.5
    assert plan.train_flops_per_token == train_flops
    assert plan.step_time_s == pytest.approx(8 * 32 * train_flops / machine)
    assert plan.days == pytest.approx(1e9 * train_flops / machine / 86_400)
    assert plan.mfu_for_reference_days == pytest.approx(
        1e9 * train_flops / (4e12 * REFERENCE_DAYS * 86_400)
    )
    assert pytest.approx(76.09375) == REFERENCE_DAYS


def test_plan_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "plan",
                "--model",
                "gemini-pro-90b",
                "--chips",
                "1024",
                "--chip",
                "tpu-v4",
                "--tokens",
                "2T",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "1024 x tpu-v4 (32 GB HBM, 275 bf16 TFLOP/s" in text and "2.5 months" in text
    args = [
        "plan",
        "--model",
        "tiny",
        "--chips",
        "8",
        "--chip",
        "toy",
        "--chip-memory-gb",
        "1.5e-3",
        "--chip-tflops",
        "1",
        "--tokens",
        "1e9",
        "--mfu",
        "0.5",
        "--seq-len",
        "32",
        "--global-batch",
        "8",
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mesh"] == {"data": 1, "fsdp": 2, "model": 1, "expert": 4}
    assert out["fits"] is True


def test_plan_command_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plan", "--model", "tiny", "--chips", "8", "--chip", "abacus", "--tokens", "1e9"])
        == 2
    )
    assert "unknown chip 'abacus'" in capsys.readouterr().err
