"""Routing state moved after each step: the balancing bias and the router input's centre.

Two per-layer vectors live with the MoE weights but take no gradient:

- `router_bias` [E], DeepSeek-V3's auxiliary-loss-free balancing (Wang et al. 2024):
  added to the router logits when the top-k experts are chosen (`model.moe.route`),
  never to the combine weights; after each step `bias += rate * sign(mean_load - load)`.
  The step does not depend on how unbalanced the layer is, so no gradient competes
  with the task loss, and a drift is undone at a known speed (rate logit units a step).
- `router_center` [d]: a running mean of the router's input, subtracted before the
  router reads it (`model.moe.router_input`). What the model adds to every position
  alike is the same for all tokens; left in, it dominates the normed hidden state from
  the peak learning rate on, and a bias cannot split tokens that look alike.

Both are updated from the state the step started with, not from the optimizer's
output, so weight decay (which may apply to rank-1 tensors) never moves them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.config import ModelConfig

ROUTING_STATE = ("router_bias", "router_center")


def bias_step(bias: jax.Array, load: jax.Array, rate: float) -> jax.Array:
    """One update of biases [..., E] from load shares [..., E], centred (adding the same
    value to every expert changes no choice; a centred bias reads as the push given)."""
    mean = jnp.mean(load, axis=-1, keepdims=True)
    moved = bias + rate * jnp.sign(mean - load).astype(bias.dtype)
    return moved - jnp.mean(moved, axis=-1, keepdims=True)


def center_step(center: jax.Array, batch_mean: jax.Array, rate: float) -> jax.Array:
    """Move the centre [..., d] `rate` of the way to this step's mean router input."""
    return center + rate * (batch_mean.astype(center.dtype) - center)


def _layer_state(moe: dict[str, Any], load: jax.Array, mean: jax.Array, cfg: ModelConfig):
    moved = {}
    if cfg.router_bias_rate > 0:
        moved["router_bias"] = bias_step(moe["router_bias"], load, cfg.router_bias_rate)
    if cfg.router_center_rate > 0:
        moved["router_center"] = center_step(moe["router_center"], mean, cfg.router_center_rate)
    return moved


def update_routing_state(
    new_params: dict[str, Any],
    old_params: dict[str, Any],
    metrics: dict[str, jax.Array],
    cfg: ModelConfig,
) -> dict[str, Any]:
    """`new_params` with every MoE layer's routing state moved by this step's routing.

    `metrics` are `loss_fn`'s: `expert_load` [n_moe_layers, E] and `router_input_mean`
    [n_moe_layers, d], the MoE slots of the repeating unit in order, `n_units` rows each.
    """
    if "expert_load" not in metrics:
        return new_params
    units, row = [], 0
    for kind, new, old in zip(
        cfg.layer_kinds, new_params["units"], old_params["units"], strict=True
    ):
        if kind == "moe":
            rows = slice(row, row + cfg.n_units)
            row += cfg.n_units
            moved = _layer_state(
                old["moe"], metrics["expert_load"][rows], metrics["router_input_mean"][rows], cfg
            )
            new = {**new, "moe": {**new["moe"], **moved}}
        units.append(new)
    return {**new_params, "units": tuple(units)}
