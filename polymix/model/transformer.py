"""The decoder: embed, a scanned stack of (attention, dense-or-MoE) layers, head, loss.

Layers are stored stacked (a leading "layers" axis per slot of the repeating unit)
and run under `lax.scan`, so compile time does not grow with depth and the 90B
preset traces as fast as the tiny one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.attention import attention, attention_info
from polymix.model.config import ModelConfig
from polymix.model.embed import embed, embed_info
from polymix.model.layers import mlp_info, norm_info, rms_norm, swiglu
from polymix.model.loss import cross_entropy_sum
from polymix.model.moe import moe, moe_info
from polymix.model.params import ParamInfo, init_from_info, make_init, stack
from polymix.model.sharding import NO_SHARDING, ShardingRules

Params = dict[str, Any]
Batch = dict[str, Any]


def layer_info(cfg: ModelConfig, kind: str) -> dict[str, Any]:
    ffn = moe_info(cfg) if kind == "moe" else mlp_info(cfg)
    return {
        "attn_norm": norm_info(cfg),
        "attn": attention_info(cfg),
        "ffn_norm": norm_info(cfg),
        kind: ffn,
    }


def param_info(cfg: ModelConfig) -> dict[str, Any]:
    """The whole model as a tree of `ParamInfo` (shapes, logical axes, initializers)."""
    return {
        "embed": embed_info(cfg),
        "units": tuple(stack(layer_info(cfg, kind), cfg.n_units) for kind in cfg.layer_kinds),
        "final_norm": norm_info(cfg),
        "head": ParamInfo((cfg.d_model, cfg.vocab_size), ("embed", "vocab"), std=cfg.init_std),
    }


def init_params(cfg: ModelConfig, key: jax.Array, rules: ShardingRules = NO_SHARDING) -> Params:
    """Parameters created directly in their sharded layout (jit with out_shardings)."""
    return make_init(param_info(cfg), jnp.dtype(cfg.param_dtype), rules)(key)


def abstract_params(cfg: ModelConfig) -> Params:
    """Shapes and dtypes only, via `jax.eval_shape`: nothing is allocated."""
    info = param_info(cfg)
    return jax.eval_shape(
        lambda k: init_from_info(info, k, jnp.dtype(cfg.param_dtype)), jax.random.key(0)
    )


def _layer(
    kind: str,
    params: Params,
    x: jax.Array,
    batch: Batch,
    cfg: ModelConfig,
    rules: ShardingRules,
    train: bool,
) -> tuple[jax.Array, dict[str, jax.Array] | None]:
    h = rms_norm(x, params["attn_norm"], cfg.norm_eps)
    x = x + attention(params["attn"], h, batch["positions"], batch["segment_ids"], cfg, rules)
    x = rules.constrain(x, "batch", "act_seq", "act_embed")
    h = rms_norm(x, params["ffn_norm"], cfg.norm_eps)
    stats = None
    if kind == "moe":
        real = batch["segment_ids"] != 0
        y, stats = moe(params["moe"], h, real, cfg, rules, train=train)
    else:
        with jax.named_scope("mlp"):
            y = swiglu(params["dense"], h, rules)
    x = rules.constrain(x + y, "batch", "act_seq", "act_embed")
    return x, stats


def hidden_states(
    params: Params,
    batch: Batch,
    cfg: ModelConfig,
    rules: ShardingRules = NO_SHARDING,
    *,
    train: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Final normed hidden states [B, L, d] and the MoE stats stacked over MoE layers."""
    x = rules.constrain(embed(params["embed"], batch, cfg), "batch", "act_seq", "act_embed")

    def unit(x: jax.Array, unit_params: tuple[Params, ...]) -> tuple[jax.Array, list[Any]]:
        collected = []
        for kind, p in zip(cfg.layer_kinds, unit_params, strict=True):
            x, stats = _layer(kind, p, x, batch, cfg, rules, train)
            if stats is not None:
                collected.append(stats)
        return x, collected

    body = jax.checkpoint(unit) if cfg.remat else unit
    x, per_unit = jax.lax.scan(body, x, params["units"])
    # per_unit: list (one per MoE slot) of dicts with a leading [n_units] axis.
    stats = {}
    if per_unit:
        stats = {name: jnp.concatenate([s[name] for s in per_unit], axis=0) for name in per_unit[0]}
    return rms_norm(x, params["final_norm"], cfg.norm_eps), stats


def forward(
    params: Params,
    batch: Batch,
    cfg: ModelConfig,
    rules: ShardingRules = NO_SHARDING,
    *,
    train: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Logits [B, L, V] (all of them: for evaluation and sampling) and the MoE stats."""
    x, stats = hidden_states(params, batch, cfg, rules, train=train)
    logits = jnp.einsum("bld,dv->blv", x, params["head"].astype(x.dtype))
    return rules.constrain(logits, "batch", "act_seq", "act_vocab"), stats


def loss_fn(
    params: Params,
    batch: Batch,
    cfg: ModelConfig,
    rules: ShardingRules = NO_SHARDING,
    *,
    train: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Next-token cross-entropy on text targets only, plus the MoE losses.

    The cross-entropy is taken `cfg.logits_chunk` positions at a time (`model.loss`),
    so the full logits never exist. Auxiliary and z losses are averaged over MoE
    layers, so a coefficient means the same thing at any depth.
    """
    x, stats = hidden_states(params, batch, cfg, rules, train=train)
    with jax.named_scope("loss"):
        mask = batch["loss_mask"]
        nll = cross_entropy_sum(x, params["head"], batch["targets"], mask, cfg.logits_chunk, rules)
        tokens = mask.astype(jnp.float32).sum()
        ce = nll / jnp.maximum(tokens, 1.0)
    metrics = {"ce_loss": ce, "loss_tokens": tokens}
    total = ce
    if stats:
        metrics["aux_loss"] = stats["aux_loss"].mean()
        metrics["z_loss"] = stats["z_loss"].mean()
        metrics["expert_load"] = stats["expert_load"]
        metrics["dropped_fraction"] = stats["dropped_fraction"]
        metrics["router_input_mean"] = stats["router_input_mean"]
        total = total + metrics["aux_loss"] + metrics["z_loss"]
    metrics["loss"] = total
    return total, metrics
