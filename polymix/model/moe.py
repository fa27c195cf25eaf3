"""Mixture-of-experts feed-forward: top-k routing, capacity or dropless dispatch, losses.

Routing follows Switch / ST-MoE / MaxText: the router runs in float32 and picks the
top-k experts per token. With top_k=1 the token's output is scaled by the chosen
expert's softmax probability (Switch), which is how the router learns from the task
loss; with k > 1 the k selected logits are renormalized by a softmax among themselves.
With a capacity, each expert takes at most `capacity` tokens per group; later choices
lose first (all first choices are placed before any second choice) and a dropped
token simply contributes nothing, so it passes through the layer on the residual
connection. Dropless routing (`model.moe_dropless`) computes every assignment.

Expert parallelism with a capacity: tokens arrive grouped [G, S, d] with G split over
the batch mesh axes (data, fsdp, expert; with context parallelism a group is one
device's slice of a row). The dispatched buffer [G, E, C, d] is re-constrained to G
over (data, fsdp, context) and E over `expert`; XLA lowers that change of layout to an
all-to-all over `expert`, and the reverse one after the expert matmuls.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.config import ModelConfig
from polymix.model.params import ParamInfo
from polymix.model.sharding import ShardingRules


def moe_info(cfg: ModelConfig) -> dict[str, ParamInfo]:
    e, d, f = cfg.n_experts, cfg.d_model, cfg.d_expert
    std_out = cfg.init_std / (2 * cfg.n_layers) ** 0.5
    return {
        "router": ParamInfo(
            (d, e), ("embed", "router_experts"), std=cfg.router_init_std / cfg.router_logit_scale
        ),
        # Routing state, not weights: no gradient reaches them (`route`); `model.balance`
        # moves them after each step. They sit with the weights because evaluation routes
        # with them too, and so they are checkpointed and restored with the weights.
        "router_bias": ParamInfo((e,), ("router_experts",), init="zeros"),
        "router_center": ParamInfo((d,), ("norm",), init="zeros"),
        "w_gate": ParamInfo((e, d, f), ("experts", "embed", "expert_mlp"), std=cfg.init_std),
        "w_up": ParamInfo((e, d, f), ("experts", "embed", "expert_mlp"), std=cfg.init_std),
        "w_down": ParamInfo((e, f, d), ("experts", "expert_mlp", "embed"), std=std_out),
    }


def _masked_mean(x: jax.Array, mask: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    m = mask.astype(jnp.float32).reshape(mask.shape + (1,) * (x.ndim - mask.ndim))
    return (x * m).sum(axes) / jnp.maximum(m.sum(axes), 1.0)


def _top_k(logits: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """`lax.top_k` by k rounds of argmax (ties to the lower index, like top_k).

    The SPMD partitioner gathers the whole batch for `top_k`; argmax and where
    partition along the batch, and k is 1 or 2 here.
    """
    values, indices = [], []
    masked = logits
    for _ in range(k):
        index = jnp.argmax(masked, axis=-1)
        values.append(jnp.take_along_axis(logits, index[..., None], axis=-1)[..., 0])
        indices.append(index)
        hit = jax.nn.one_hot(index, logits.shape[-1], dtype=bool)
        masked = jnp.where(hit, -jnp.inf, masked)
    return jnp.stack(values, -1), jnp.stack(indices, -1).astype(jnp.int32)


def route(
    x: jax.Array,
    router: jax.Array,
    top_k: int,
    logit_scale: float = 1.0,
    bias: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Router in float32: bf16 logits flip near-tied top-k choices between replicas.

    `bias` [E] (DeepSeek-V3's balancing bias) shifts which experts are chosen but not
    how much each contributes: the combine weights, probabilities and losses use the
    unbiased logits, and no gradient flows into it.

    Returns (experts [..., k], combine weights [..., k], probabilities [..., E], logits).
    """
    logits = jnp.einsum("...d,de->...e", x.astype(jnp.float32), router.astype(jnp.float32))
    logits = logits * logit_scale
    probs = jax.nn.softmax(logits, axis=-1)
    choice = logits
    if bias is not None:
        choice = logits + jax.lax.stop_gradient(bias.astype(jnp.float32))
    _, experts = _top_k(choice, top_k)
    top_logits = jnp.take_along_axis(logits, experts, axis=-1)
    if top_k == 1:
        # A softmax over one logit is 1.0 whatever the router does; the probability of the
        # chosen expert among all of them is what carries the task gradient (Switch).
        weights = jnp.take_along_axis(probs, experts, axis=-1)
    else:
        weights = jax.nn.softmax(top_logits, axis=-1)
    return experts, weights, probs, logits


def router_input(params: dict[str, Any], x: jax.Array) -> jax.Array:
    """The normed hidden state minus the layer's running mean of it (`model.balance`).

    Every token's hidden state carries a shared component (what the model adds to all
    positions alike); it grows from the peak learning rate on until it dominates, and a
    router that sees it routes every token the same way. The centre is state from
    earlier steps, so a token's route never depends on other tokens of its batch.
    """
    center = params.get("router_center")
    if center is None:
        return x
    return x.astype(jnp.float32) - jax.lax.stop_gradient(center.astype(jnp.float32))


def load_balance_loss(
    experts: jax.Array, probs: jax.Array, mask: jax.Array, coef: float
) -> tuple[jax.Array, jax.Array]:
    """Switch-form loss `coef * E * sum_e f_e * P_e`; equals `coef` at perfect balance.

    f_e: share of the (valid) top-k assignments that picked expert e; P_e: mean router
    probability of e. Returns the loss and f (the per-expert load metric).
    """
    n_experts = probs.shape[-1]
    lead = tuple(range(experts.ndim - 1))
    chosen = jax.nn.one_hot(experts, n_experts, dtype=jnp.float32).sum(-2)  # [..., E]
    load = _masked_mean(chosen, mask, lead) / experts.shape[-1]
    mean_prob = _masked_mean(probs, mask, lead)
    return coef * n_experts * jnp.sum(load * mean_prob), load


def router_z_loss(logits: jax.Array, mask: jax.Array, coef: float) -> jax.Array:
    """ST-MoE z-loss `coef * mean(logsumexp(logits)^2)`: keeps router logits small."""
    z = jax.nn.logsumexp(logits, axis=-1)
    return coef * _masked_mean(z * z, mask, tuple(range(mask.ndim)))


def _expert_ffn(params: dict[str, Any], x: jax.Array, rules: ShardingRules) -> jax.Array:
    """SwiGLU per expert on the dispatched buffer [G, E, C, d]."""
    dtype = x.dtype
    gate = jnp.einsum("gecd,edf->gecf", x, params["w_gate"].astype(dtype))
    up = jnp.einsum("gecd,edf->gecf", x, params["w_up"].astype(dtype))
    hidden = rules.constrain(jax.nn.silu(gate) * up, "group", "act_experts", None, "act_mlp")
    out = jnp.einsum("gecf,efd->gecd", hidden, params["w_down"].astype(dtype))
    # Pin the result to the expert layout too; otherwise XLA may move the all-to-all
    # before this matmul and all-gather the expert weights instead.
    return rules.constrain(out, "group", "act_experts", None, "act_embed")


def capacity_slots(
    experts: jax.Array, mask: jax.Array, n_experts: int, capacity: int
) -> tuple[jax.Array, jax.Array]:
    """Buffer slot `e * C + position` of every assignment [G, S, k], and whether it fits.

    Positions are handed out choice-major (every token's first choice before any
    second choice), so overflow drops the least important assignments first.
    Padding tokens (mask False) take no slot.
    """
    g, s, k = experts.shape
    onehot = jax.nn.one_hot(experts, n_experts, dtype=jnp.int32) * mask[..., None, None]
    order = onehot.transpose(0, 2, 1, 3).reshape(g, k * s, n_experts)
    position = (jnp.cumsum(order, axis=1) - 1) * order
    position = position.sum(-1).reshape(g, k, s).transpose(0, 2, 1)  # [G, S, k]
    keep = (position < capacity) & mask[..., None]
    slot = jnp.where(keep, experts * capacity + position, n_experts * capacity)
    return slot, keep


def _dispatch_capacity(
    params: dict[str, Any],
    x: jax.Array,
    experts: jax.Array,
    weights: jax.Array,
    mask: jax.Array,
    capacity: int,
    rules: ShardingRules,
) -> tuple[jax.Array, jax.Array]:
    g, s, d = x.shape
    k = experts.shape[-1]
    n_experts = params["w_gate"].shape[0]
    slot, keep = capacity_slots(experts, mask, n_experts, capacity)
    trash = n_experts * capacity

    # Which token fills each slot (S = the zero row); integer bookkeeping, no gradient.
    def fill(slots: jax.Array) -> jax.Array:
        tokens = jnp.repeat(jnp.arange(s, dtype=jnp.int32), k)
        table = jnp.full((trash + 1,), s, jnp.int32).at[slots.reshape(-1)].set(tokens)
        return table[:trash]

    with jax.named_scope("moe_dispatch"):
        token_of_slot = jax.vmap(fill)(slot)  # [G, E*C]
        x_pad = jnp.concatenate([x, jnp.zeros((g, 1, d), x.dtype)], axis=1)
        buf = jnp.take_along_axis(x_pad, token_of_slot[..., None], axis=1)
        buf = buf.reshape(g, n_experts, capacity, d)
        buf = rules.constrain(buf, "group", "act_experts", None, "act_embed")  # all-to-all in
    with jax.named_scope("experts"):
        out = _expert_ffn(params, buf, rules)
    with jax.named_scope("moe_combine"):
        out = rules.constrain(out, "moe_groups", None, None, "act_embed")  # all-to-all back
        out = jnp.concatenate([out.reshape(g, trash, d), jnp.zeros((g, 1, d), out.dtype)], 1)
        picked = jnp.take_along_axis(out, slot.reshape(g, s * k)[..., None], axis=1)
        picked = picked.reshape(g, s, k, d)
        combine = (weights * keep).astype(picked.dtype)
        return jnp.einsum("gskd,gsk->gsd", picked, combine), keep


def _capacity_groups(x: jax.Array, rules: ShardingRules) -> tuple[jax.Array, int]:
    """[B, L, d] -> [B * C, L / C, d], C = the context split: groups stay device-local."""
    b, n, d = x.shape
    c = rules.axis_size("context") if rules.splits("act_seq", n, "context") else 1
    groups = x.reshape(b * c, n // c, d)
    return rules.constrain(groups, "moe_groups", None, "act_embed"), c


def moe(
    params: dict[str, Any],
    x: jax.Array,
    mask: jax.Array,
    cfg: ModelConfig,
    rules: ShardingRules,
    *,
    train: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """x [B, L, d]; mask [B, L] marks real tokens (padding takes no expert's time).

    Returns the expert mixture (zero for dropped tokens) and per-layer stats: the
    auxiliary and z losses (coefficients applied), per-expert load and dropped share.
    """
    with jax.named_scope("router"):
        experts, weights, probs, logits = route(
            router_input(params, x), params["router"], cfg.top_k, cfg.router_logit_scale,
            params.get("router_bias"),
        )  # fmt: skip
        aux, load = load_balance_loss(experts, probs, mask, cfg.aux_loss_coef)
        stats = {"aux_loss": aux, "z_loss": router_z_loss(logits, mask, cfg.z_loss_coef)}
        stats["expert_load"] = load
        stats["router_input_mean"] = _masked_mean(x.astype(jnp.float32), mask, (0, 1))
    if cfg.dropless:
        from polymix.model.attention import platform_of
        from polymix.model.moe_dropless import dropless_moe

        out, stats["dropped_fraction"] = dropless_moe(
            params, x, experts, weights, mask, cfg.ragged_collectives, rules,
            platform_of(rules), cfg.dropless_buffer_factor,
        )  # fmt: skip
        return out, stats
    b, n, d = x.shape
    xg, c = _capacity_groups(x, rules)
    regroup = lambda t: t.reshape(b * c, n // c, *t.shape[2:])  # noqa: E731
    capacity = cfg.capacity(n // c, train)
    out, keep = _dispatch_capacity(
        params, xg, regroup(experts), regroup(weights), regroup(mask), capacity, rules
    )
    assigned = jnp.maximum(mask.sum() * cfg.top_k, 1).astype(jnp.float32)
    stats["dropped_fraction"] = 1.0 - keep.sum() / assigned
    return out.reshape(b, n, d), stats
