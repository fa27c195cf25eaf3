"""The rules table, and sharded == single-device on 8 fake CPU devices (in a subprocess)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest
from jax.sharding import PartitionSpec as P

from polymix.model.config import get_config
from polymix.model.params import is_info
from polymix.model.sharding import MESH_AXES, ShardingRules
from polymix.model.transformer import param_info

SCRIPT = Path(__file__).with_name("multidevice_check.py")
ROOT = Path(__file__).resolve().parents[2]


def _rules(data: int, fsdp: int, model: int, expert: int, context: int = 1) -> ShardingRules:
    mesh = jax.sharding.AbstractMesh((data, fsdp, context, model, expert), MESH_AXES)
    return ShardingRules(mesh)  # type: ignore[arg-type]  # spec() only reads mesh.shape


def test_spec_follows_the_table() -> None:
    rules = _rules(2, 1, 4, 2)
    assert rules.spec(("experts", "embed", "expert_mlp"), (4, 64, 64)) == P("expert", None, "model")
    assert rules.spec(("embed", "heads", "head_dim"), (64, 8, 8)) == P(None, "model")
    # Outside the MoE block the expert axis carries more batch.
    assert rules.spec(("batch", "act_seq", "act_embed"), (8, 32, 64)) == P(("data", "expert"))
    # Inside it, after dispatch, groups keep only data.
    assert rules.spec(("group", "act_experts", None, None), (8, 4, 5, 64)) == P("data", "expert")
    # The context axis splits positions, and capacity groups follow it.
    ctx = _rules(2, 1, 1, 1, context=4)
    assert ctx.spec(("batch", "act_seq", "act_embed"), (8, 32, 64)) == P("data", "context")
    assert ctx.spec(("moe_groups", None), (32, 8)) == P(("data", "context"))


def test_axes_that_do_not_divide_stay_whole() -> None:
    rules = _rules(2, 1, 4, 2)
    assert rules.spec(("embed", "kv_heads", "head_dim"), (64, 2, 8)) == P()
    assert rules.spec(("batch",), (2,)) == P("data")  # expert dropped, data kept
    assert _rules(1, 2, 1, 1).spec(("embed", "vocab"), (64, 10)) == P("fsdp")


def test_a_mesh_axis_is_used_once_per_array() -> None:
    rules = ShardingRules(_rules(2, 1, 2, 2).mesh, {"a": "model", "b": "model"})
    assert rules.spec(("a", "b"), (4, 4)) == P("model")


def test_a_misspelled_logical_axis_is_an_error_not_replication() -> None:
    with pytest.raises(KeyError, match="act_sequence"):
        _rules(2, 1, 2, 2).spec(("batch", "act_sequence"), (8, 32))


def test_every_parameter_has_a_known_logical_axis() -> None:
    known = set(ShardingRules().rules)
    for info in jax.tree.leaves(param_info(get_config("tiny")), is_leaf=is_info):
        assert set(info.axes) <= known, info.axes


def _run(*args: str) -> dict:
    # Backend optimization off: partitioning (what is tested) is unchanged, compiles 2x faster.
    flags = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
    env = {**os.environ, "XLA_FLAGS": flags}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def _check(report: dict) -> None:
    assert report["devices"] == 8
    for case, r in report["cases"].items():
        assert r["loss_diff"] < 1e-5, case
        assert r["max_grad_rel_diff"] < 1e-4, case
        assert r["max_param_rel_diff"] == 0.0, case  # init is sharding-invariant
        assert r["mismatches"] == [], case
        assert r["experts_on_expert"] and r["heads_on_model"], case
        expert_weights = [s for s in r["all_gathers"] if s[-3:] in ([4, 64, 64],)]
        assert not expert_weights, f"{case}: expert weights all-gathered"


@pytest.fixture(scope="module")
def report() -> dict:
    return _run()


def test_fsdp_context_and_expert_parallel_dropless_equal_one_device(report: dict) -> None:
    """fsdp 2 x context 2 x expert 2, blockwise attention with keys gathered over
    `context`, dropless routing through the explicit exchange: loss and every gradient."""
    _check(report)
    case = report["cases"]["1,2,2,1,2:dropless=true,attention=blockwise"]
    assert case["sharded_init"]
    assert case["all_to_all"] >= 4


def test_capacity_dispatch_compiles_to_all_to_all(report: dict) -> None:
    assert report["cases"]["2,2,2"]["all_to_all"] > 0


def test_expert_parallel_dropless_exchanges_tokens_and_gathers_none(report: dict) -> None:
    """(2,2,2): the dropless step moves tokens with all-to-alls (dispatch and combine,
    forward and backward) and never all-gathers a buffer of d_model-wide rows; only the
    per-expert counts ([2, 2] integers) are gathered. Its FLOPs stay within 1.3x of the
    capacity path's on the same mesh."""
    dropless, capacity = report["cases"]["2,2,2:dropless=true"], report["cases"]["2,2,2"]
    assert dropless["all_to_all"] >= 4
    d_model = report["d_model"]
    wide = [s for s in dropless["all_gathers"] if d_model in s]
    assert wide == [], wide
    assert all(math.prod(s) <= 4 for s in dropless["all_gathers"]), dropless["all_gathers"]
    assert dropless["flops"] <= 1.3 * capacity["flops"], (dropless["flops"], capacity["flops"])


def test_accelerators_get_native_ragged_all_to_all_and_ragged_dot(report: dict) -> None:
    """TPU and GPU lowerings of the same step: two ragged_all_to_all per MoE layer
    forward (dispatch, combine) and two more for their transposes, grouped matmuls as
    ragged_dot, and no all-gather of d_model-wide rows."""
    for platform, lowered in report["lowered"].items():
        assert lowered["ragged_all_to_all"] == 4, platform
        assert lowered["ragged_dot"] > 0, platform
        wide = [s for s in lowered["all_gather_shapes"] if str(report["d_model"]) in s.split("x")]
        assert wide == [], (platform, wide)


@pytest.mark.slow
def test_more_meshes_equal_single_device() -> None:
    from tests.model.multidevice_check import MORE_CASES

    _check(_run(*MORE_CASES))
