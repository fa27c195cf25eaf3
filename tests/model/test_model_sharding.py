"""The rules table, and sharded == single-device on 8 fake CPU devices (in a subprocess)."""

from __future__ import annotations

import json
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


def _rules(data: int, fsdp: int, model: int, expert: int) -> ShardingRules:
    mesh = jax.sharding.AbstractMesh((data, fsdp, model, expert), MESH_AXES)
    return ShardingRules(mesh)  # type: ignore[arg-type]  # spec() only reads mesh.shape


def test_spec_follows_the_table() -> None:
    rules = _rules(2, 1, 4, 2)
    assert rules.spec(("experts", "embed", "expert_mlp"), (4, 64, 64)) == P("expert", None, "model")
    assert rules.spec(("embed", "heads", "head_dim"), (64, 8, 8)) == P(None, "model")
    # Outside the MoE block the expert axis carries more batch.
    assert rules.spec(("batch", "act_seq", "act_embed"), (8, 32, 64)) == P(("data", "expert"))
    # Inside it, after dispatch, groups keep only data.
    assert rules.spec(("group", "act_experts", None, None), (8, 4, 5, 64)) == P("data", "expert")


def test_axes_that_do_not_divide_stay_whole() -> None:
    rules = _rules(2, 1, 4, 2)
    assert rules.spec(("embed", "kv_heads", "head_dim"), (64, 2, 8)) == P()
    assert rules.spec(("batch",), (2,)) == P("data")  # expert dropped, data kept
    assert _rules(1, 2, 1, 1).spec(("embed", "vocab"), (64, 10)) == P("fsdp")


def test_a_mesh_axis_is_used_once_per_array() -> None:
    rules = ShardingRules(_rules(2, 1, 2, 2).mesh, {"a": "model", "b": "model"})
    assert rules.spec(("a", "b"), (4, 4)) == P("model")


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


def _check(report: dict, expect_all_to_all: bool) -> None:
    assert report["devices"] == 8
    for mesh, r in report["meshes"].items():
        assert r["loss_diff"] < 1e-5, mesh
        assert r["max_grad_rel_diff"] < 1e-4, mesh
        assert r["max_param_rel_diff"] == 0.0, mesh  # init is sharding-invariant
        assert r["mismatches"] == [], mesh
        assert r["experts_on_expert"] and r["heads_on_model"], mesh
        expert_size = int(mesh.split(",")[-1])
        assert r["expert_weight_all_gathers"] == 0, f"{mesh}: expert weights all-gathered"
        if expect_all_to_all and expert_size > 1:
            assert r["all_to_all"], f"{mesh}: no all-to-all over `expert` in the compiled step"


def test_sharded_loss_and_grads_equal_single_device() -> None:
    _check(_run(), expect_all_to_all=True)


@pytest.mark.slow
def test_sharded_dropless_blockwise_and_fsdp_equal_single_device() -> None:
    report = _run("--dropless", "--attention", "blockwise", "--meshes", "2,2,2", "1,2,2,2")
    _check(report, expect_all_to_all=False)
