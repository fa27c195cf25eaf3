"""The small dense building blocks: RMSNorm, rotary embeddings, SwiGLU."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.config import ModelConfig
from polymix.model.params import ParamInfo
from polymix.model.sharding import ShardingRules


def rms_norm(x: jax.Array, weight: jax.Array, eps: float) -> jax.Array:
    """Normalize in float32 even for bf16 activations: the mean square underflows otherwise."""
    x32 = x.astype(jnp.float32)
    scale = jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (x32 * scale * weight.astype(jnp.float32)).astype(x.dtype)


def norm_info(cfg: ModelConfig) -> ParamInfo:
    return ParamInfo((cfg.d_model,), ("norm",), init="ones")


def rope(x: jax.Array, positions: jax.Array, theta: float, scaling: float = 1.0) -> jax.Array:
    """Rotate channel pairs (i, i + D/2) by position-dependent angles.

    Positions come from the batch and restart per packed document, so a document's
    attention pattern does not depend on where in the row the loader put it.

    Longer contexts: the slowest channel turns once in 2*pi*theta positions, so `theta`
    is raised with the context (Llama 3 trains 8k with 500,000; "ABF", Xiong et al. 2023,
    continues 4k -> 32k with 500,000). `scaling` > 1 is linear position interpolation
    (Chen et al. 2023): positions / scaling, for a model extended past the length it was
    trained at without retraining its rotation speeds.
    """
    half = x.shape[-1] // 2
    freqs = theta ** (-jnp.arange(half, dtype=jnp.float32) / half)
    angles = (positions.astype(jnp.float32) / scaling)[..., None] * freqs  # [B, L, half]
    sin = jnp.sin(angles)[..., None, :]
    cos = jnp.cos(angles)[..., None, :]
    x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x.dtype)


def mlp_info(cfg: ModelConfig) -> dict[str, ParamInfo]:
    std_out = cfg.init_std / (2 * cfg.n_layers) ** 0.5
    return {
        "w_gate": ParamInfo((cfg.d_model, cfg.d_ff), ("embed", "mlp"), std=cfg.init_std),
        "w_up": ParamInfo((cfg.d_model, cfg.d_ff), ("embed", "mlp"), std=cfg.init_std),
        "w_down": ParamInfo((cfg.d_ff, cfg.d_model), ("mlp", "embed"), std=std_out),
    }


def swiglu(params: dict[str, Any], x: jax.Array, rules: ShardingRules) -> jax.Array:
    """SwiGLU feed-forward; the hidden layer is split over `model` (Megatron style)."""
    dtype = x.dtype
    gate = jnp.einsum("bld,df->blf", x, params["w_gate"].astype(dtype))
    up = jnp.einsum("bld,df->blf", x, params["w_up"].astype(dtype))
    hidden = rules.constrain(jax.nn.silu(gate) * up, "batch", "act_seq", "act_mlp")
    return jnp.einsum("blf,fd->bld", hidden, params["w_down"].astype(dtype))
