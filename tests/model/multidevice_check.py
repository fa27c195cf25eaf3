"""Sharded vs single-device equivalence on 8 fake CPU devices; prints a JSON report.

Run in its own process (the device count is fixed when jax starts), by
`tests/model/test_sharding.py` or by hand:
    python tests/model/multidevice_check.py [--meshes 8,1,1 2,2,2] [--dropless]
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
from polymix.model.params import is_info  # noqa: E402
from polymix.model.sample import random_batch  # noqa: E402
from polymix.model.sharding import ShardingRules, make_mesh  # noqa: E402
from polymix.model.transformer import init_params, loss_fn, param_info  # noqa: E402

DEFAULT_MESHES = ["8,1,1", "2,2,2", "1,4,2", "2,1,4"]


def _grad_fn(cfg, rules):
    def f(params, batch):
        return loss_fn(params, batch, cfg, rules)[0]

    return jax.jit(jax.value_and_grad(f))


def _rel_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12))


def _expert_weight_gathers(hlo: str, cfg) -> int:
    """All-gathers that rebuild a whole expert weight: expert parallelism undone."""
    e, d, f = cfg.n_experts, cfg.d_model, cfg.d_expert
    whole = {(e, d, f), (e, f, d)}
    count = 0
    for dims in re.findall(r"= \w+\[([\d,]+)\]\S* all-gather(?:-start)?\(", hlo):
        shape = tuple(int(x) for x in dims.split(","))
        count += shape[-3:] in whole
    return count


def _canonical(spec) -> tuple:
    """PartitionSpec without trailing Nones, so P("x") and P("x", None) compare equal."""
    parts = list(spec)
    while parts and parts[-1] is None:
        parts.pop()
    return tuple(parts)


def _sharding_report(params, info, rules: ShardingRules, cfg) -> dict:
    """Every leaf's actual spec vs the table, plus the two facts the issue names."""
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meshes", nargs="*", default=DEFAULT_MESHES)
    parser.add_argument("--dropless", action="store_true")
    parser.add_argument("--attention", default="direct")
    args = parser.parse_args()

    cfg = get_config("tiny").replace(dropless=args.dropless, attention=args.attention)
    key = jax.random.key(0)
    batch = random_batch(cfg, batch=8, seq_len=32, seed=1)
    with jax.default_device(jax.devices()[0]):
        ref_params = init_params(cfg, key)
        ref_loss, ref_grads = _grad_fn(cfg, ShardingRules())(ref_params, batch)
    info = param_info(cfg)
    report = {"devices": jax.device_count(), "ref_loss": float(ref_loss), "meshes": {}}
    for text in args.meshes:
        shape = tuple(int(s) for s in text.split(","))
        rules = ShardingRules(make_mesh(shape))
        params = init_params(cfg, key, rules)
        batch_s = {
            name: jax.device_put(x, rules.sharding(("batch",) + (None,) * (x.ndim - 1), x.shape))
            for name, x in batch.items()
        }
        step = _grad_fn(cfg, rules)
        compiled = step.lower(params, batch_s).compile()  # compile once, read HLO, run it
        loss, grads = compiled(params, batch_s)
        hlo = compiled.as_text()
        grad_diffs = jax.tree.leaves(jax.tree.map(_rel_diff, grads, ref_grads))
        param_diffs = jax.tree.leaves(jax.tree.map(_rel_diff, params, ref_params))
        report["meshes"][text] = {
            "loss": float(loss),
            "loss_diff": abs(float(loss) - float(ref_loss)),
            "max_grad_rel_diff": max(grad_diffs),
            "max_param_rel_diff": max(param_diffs),
            "all_to_all": "all-to-all" in hlo,
            "expert_weight_all_gathers": _expert_weight_gathers(hlo, cfg),
            **_sharding_report(params, info, rules, cfg),
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
