"""Sharded vs single-device equivalence on 8 fake CPU devices; prints a JSON report.

Run in its own process (the device count is fixed when jax starts), by
`tests/model/test_model_sharding.py` or by hand:
    python tests/model/multidevice_check.py [CASE ...]
A case is `mesh[:key=value,...]`, e.g. `2,2,2:dropless=true` or `1,1,4,2,1:attention=blockwise`;
the mesh has 3 (data, model, expert), 4 (+ fsdp) or 5 (+ context) axes.
"""

from __future__ import annotations

import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from polymix.model.config import get_config  # noqa: E402
from polymix.model.params import is_info, shardings_of  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.sharding import ShardingRules, make_mesh  # noqa: E402
from polymix.model.transformer import init_params, loss_fn, param_info  # noqa: E402
from polymix.trainer.step import batch_shardings  # noqa: E402

# The first case also checks that parameters born sharded equal the single-device ones.
DEFAULT_CASES = [
    "1,2,2,1,2:dropless=true,attention=blockwise",  # fsdp x context x expert, one compile
    "2,2,2",  # capacity: all-to-all from the sharding constraints
    "2,2,2:dropless=true",  # expert-parallel dropless: explicit ragged all-to-all
]
MORE_CASES = [
    "8,1,1",
    "1,4,2",
    "2,1,4",
    "1,2,4:dropless=true",
    "2,2,2:attention=blockwise",
    "1,1,4,2,1:dropless=true",  # context 4 x model 2
    "2,1,2,1,2:dropless=true,attention=blockwise",
    # Capacity groups are per-device slices of rows under context parallelism: equal to
    # one device only where nothing is dropped.
    "1,1,2,2,2:capacity_factor_train=8.0",
]
BATCH, SEQ = 8, 32


def _grad_fn(cfg, rules):
    def f(params, batch):
        return loss_fn(params, batch, cfg, rules)[0]

    return jax.jit(jax.value_and_grad(f))


def _rel_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12))


def _all_gather_shapes(hlo: str) -> list[list[int]]:
    found = re.findall(r"= \w+\[([\d,]*)\]\S* all-gather(?:-start)?\(", hlo)
    return [[int(x) for x in dims.split(",") if x] for dims in found]


def _canonical(spec) -> tuple:
    parts = list(spec)
    while parts and parts[-1] is None:
        parts.pop()
    return tuple(parts)


def _sharding_report(params, info, rules: ShardingRules, cfg) -> dict:
    """Every leaf's actual spec vs the table, plus the two facts the layout promises."""
    mismatches = []
    flat_p = jax.tree_util.tree_flatten_with_path(params)[0]
    flat_i = jax.tree.leaves(info, is_leaf=is_info)
    for (path, leaf), pinfo in zip(flat_p, flat_i, strict=True):
        want = rules.spec(pinfo.axes, pinfo.shape)
        got = leaf.sharding.spec
        if _canonical(want) != _canonical(got):
            mismatches.append(f"{jax.tree_util.keystr(path)}: {got} != {want}")
    mesh = rules.mesh.shape
    moe_unit = params["units"][cfg.layer_kinds.index("moe")]
    expert_spec = moe_unit["moe"]["w_gate"].sharding.spec
    heads_spec = moe_unit["attn"]["wq"].sharding.spec
    return {
        "mismatches": mismatches,
        "experts_on_expert": mesh["expert"] == 1 or expert_spec[1] == "expert",
        "heads_on_model": mesh["model"] == 1 or heads_spec[2] == "model",
    }


def _parse(case: str):
    mesh_text, _, extra = case.partition(":")
    overrides = [kv for kv in extra.split(",") if kv]
    return tuple(int(s) for s in mesh_text.split(",")), overrides


_REFERENCES: dict[tuple[str, ...], tuple] = {}


def _reference(cfg, overrides: list[str], params, batch) -> tuple:
    """Single-device loss and gradients, once per distinct model configuration."""
    key = tuple(sorted(overrides))
    if key not in _REFERENCES:
        with jax.default_device(jax.devices()[0]):
            _REFERENCES[key] = _grad_fn(cfg, ShardingRules())(params, batch)
    return _REFERENCES[key]


def run_case(case: str, batch: dict, ref_params, key, *, sharded_init: bool = False) -> dict:
    shape, overrides = _parse(case)
    cfg = get_config("tiny", overrides)
    ref_loss, ref_grads = _reference(cfg, overrides, ref_params, batch)
    rules = ShardingRules(make_mesh(shape))
    if sharded_init:  # born sharded must equal born whole
        params = init_params(cfg, key, rules)
    else:
        params = jax.device_put(ref_params, shardings_of(param_info(cfg), rules))
    shardings = batch_shardings(rules, batch)
    batch_s = {name: jax.device_put(x, shardings[name]) for name, x in batch.items()}
    compiled = _grad_fn(cfg, rules).lower(params, batch_s).compile()
    loss, grads = compiled(params, batch_s)
    hlo = compiled.as_text()
    grad_diffs = jax.tree.leaves(jax.tree.map(_rel_diff, grads, ref_grads))
    param_diffs = jax.tree.leaves(jax.tree.map(_rel_diff, params, ref_params))
    return {
        "loss": float(loss),
        "loss_diff": abs(float(loss) - float(ref_loss)),
        "max_grad_rel_diff": max(grad_diffs),
        "max_param_rel_diff": max(param_diffs),
        "sharded_init": sharded_init,
        "all_to_all": len(re.findall(r"all-to-all(?:-start)?\(", hlo)),
        "all_gathers": _all_gather_shapes(hlo),
        "flops": compiled.cost_analysis()["flops"],
        **_sharding_report(params, param_info(cfg), rules, cfg),
    }


def lowered_for_accelerators(batch: dict, params) -> dict:
    """The (2,2,2) dropless step as StableHLO for TPU and GPU (lowered here, not run):
    the native exchange and grouped matmul are what the accelerators get."""
    cfg = get_config("tiny", ["dropless=true", "ragged_collectives=native"])
    rules = ShardingRules(make_mesh((2, 2, 2)))
    params = jax.device_put(params, shardings_of(param_info(cfg), rules))
    traced = _grad_fn(cfg, rules).trace(params, batch)
    out = {}
    for platform in ("tpu", "cuda"):
        text = traced.lower(lowering_platforms=(platform,)).as_text()
        out[platform] = {
            "ragged_all_to_all": text.count("ragged_all_to_all"),
            "ragged_dot": text.count("ragged_dot"),
            "all_gather_shapes": re.findall(r"all_gather.*?-> tensor<([\dx]+)\w+>", text),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    args = parser.parse_args()
    key = jax.random.key(0)
    batch = random_batch(get_config("tiny"), batch=BATCH, seq_len=SEQ, seed=1)
    cfg = get_config("tiny")
    with jax.default_device(jax.devices()[0]):
        ref_params = init_params(cfg, key)
    report = {
        "devices": jax.device_count(),
        "tokens": BATCH * SEQ,
        "d_model": cfg.d_model,
        "expert_shapes": [[cfg.n_experts, cfg.d_model, cfg.d_expert]],
        "cases": {
            case: run_case(case, batch, ref_params, key, sharded_init=i == 0)
            for i, case in enumerate(args.cases)
        },
    }
    if "2,2,2:dropless=true" in args.cases:
        report["lowered"] = lowered_for_accelerators(batch, ref_params)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
