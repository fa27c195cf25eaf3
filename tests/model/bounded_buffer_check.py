"""Run as a script on 8 host devices: a bounded dropless receive buffer against a
NumPy account of what fits, on a (1, 1, 2) mesh (two `expert` peers). Prints JSON.

What fits is worked out here from the routing alone: each device's assignments sorted
by expert (stably, token-major), one slice per destination peer; slices land in
source-device order and a destination keeps the first `ceil(factor x own rows)`.
"""

from __future__ import annotations

import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from polymix.model.config import get_config  # noqa: E402
from polymix.model.moe import moe, moe_info, route  # noqa: E402
from polymix.model.params import init_from_info  # noqa: E402
from polymix.model.sharding import ShardingRules, make_mesh  # noqa: E402

B, L, PEERS = 8, 32, 2


def expected_keep(experts: np.ndarray, n_experts: int, factor: float) -> np.ndarray:
    """[B, L, k] bool: the assignments that fit, device by device (rows split over peers)."""
    keep = np.zeros(experts.shape, bool)
    per_device = experts.reshape(PEERS, -1)  # device s holds rows s*B/P.., token-major
    capacity = math.ceil(factor * per_device.shape[1])
    local = n_experts // PEERS
    used = np.zeros(PEERS, int)
    flat_keep = keep.reshape(PEERS, -1)
    for source in range(PEERS):
        order = np.argsort(per_device[source], kind="stable")
        for dest in range(PEERS):
            mine = order[per_device[source][order] // local == dest]
            room = max(0, min(len(mine), capacity - used[dest]))
            flat_keep[source, mine[:room]] = True
            used[dest] += len(mine)
    return flat_keep.reshape(experts.shape)


def dense_mixture(params, x, experts, weights, keep) -> np.ndarray:
    """Every expert on every token, then the kept part of the routed mixture."""
    gate = jnp.einsum("bld,edf->blef", x, params["w_gate"])
    up = jnp.einsum("bld,edf->blef", x, params["w_up"])
    every = jnp.einsum("blef,efd->bled", jax.nn.silu(gate) * up, params["w_down"])
    picked = jnp.take_along_axis(every, experts[..., None], axis=2)
    return np.asarray(jnp.einsum("blkd,blk->bld", picked, weights * keep))


def main() -> int:
    rules = ShardingRules(make_mesh((1, 1, PEERS)))
    report = {}
    for factor in (0.0, 0.5, 0.8):
        cfg = get_config("tiny", {"dropless": True, "dropless_buffer_factor": factor})
        params = init_from_info(moe_info(cfg), jax.random.key(0))
        params["router"] = jax.random.normal(jax.random.key(1), params["router"].shape)
        x = jax.random.normal(jax.random.key(2), (B, L, cfg.d_model))
        mask = jnp.ones((B, L), bool)
        out, stats = jax.jit(lambda p, x, m, c=cfg: moe(p, x, m, c, rules))(params, x, mask)
        experts, weights, _, _ = route(x, params["router"], cfg.top_k)
        worst = factor == 0.0
        keep = np.ones(experts.shape, bool) if worst else expected_keep(
            np.asarray(experts), cfg.n_experts, factor
        )  # fmt: skip
        want = dense_mixture(params, x, experts, weights, keep)
        report[str(factor)] = {
            "dropped": float(stats["dropped_fraction"]),
            "expected_dropped": 1.0 - float(keep.mean()),
            "max_abs_diff": float(np.max(np.abs(np.asarray(out) - want))),
            "max_abs_out": float(np.max(np.abs(want))),
        }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
