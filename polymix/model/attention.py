"""Grouped-query attention with causal + segment masking, direct or blockwise.

The direct path goes through `jax.nn.dot_product_attention` so each backend can pick
its fused kernel. The blockwise path never materializes the [L, L] score matrix: it
walks key blocks with an online softmax and recomputes each query block in the
backward pass, so memory grows linearly with sequence length.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.config import ModelConfig
from polymix.model.layers import rope
from polymix.model.params import ParamInfo
from polymix.model.sharding import ShardingRules

_NEG = -1e30


def attention_info(cfg: ModelConfig) -> dict[str, ParamInfo]:
    d, h, k, hd = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    std_out = cfg.init_std / (2 * cfg.n_layers) ** 0.5
    return {
        "wq": ParamInfo((d, h, hd), ("embed", "heads", "head_dim"), std=cfg.init_std),
        "wk": ParamInfo((d, k, hd), ("embed", "kv_heads", "head_dim"), std=cfg.init_std),
        "wv": ParamInfo((d, k, hd), ("embed", "kv_heads", "head_dim"), std=cfg.init_std),
        "wo": ParamInfo((h, hd, d), ("heads", "head_dim", "embed"), std=std_out),
    }


def attention_mask(segment_ids: jax.Array) -> jax.Array:
    """[B, 1, L, L]: attend backwards, and only within the same packed document.

    Padding (segment 0) attends to padding, so no row is fully masked and no NaN
    can appear; padding never reaches the loss.
    """
    n = segment_ids.shape[-1]
    causal = jnp.tril(jnp.ones((n, n), dtype=bool))
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    return (same & causal)[:, None]


def direct_attention(q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array) -> jax.Array:
    """q [B, L, H, D], k/v [B, L, K, D] with H a multiple of K (GQA)."""
    return jax.nn.dot_product_attention(q, k, v, mask=attention_mask(segment_ids))


def blockwise_attention(
    q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array, block: int
) -> jax.Array:
    """Same result as `direct_attention`, in O(L * block) memory (forward and backward)."""
    b, n, h, d = q.shape
    kv = k.shape[2]
    g = h // kv
    block = min(block, n)
    pad = (-n) % block
    if pad:
        widths = ((0, 0), (0, pad), (0, 0), (0, 0))
        q, k, v = (jnp.pad(t, widths) for t in (q, k, v))
        segment_ids = jnp.pad(segment_ids, ((0, 0), (0, pad)), constant_values=-1)
    nb = (n + pad) // block
    scale = d**-0.5

    # Blocks lead so lax.map / lax.scan walk them.
    qb = q.reshape(b, nb, block, kv, g, d).transpose(1, 0, 2, 3, 4, 5)
    kb = k.reshape(b, nb, block, kv, d).transpose(1, 0, 2, 3, 4)
    vb = v.reshape(b, nb, block, kv, d).transpose(1, 0, 2, 3, 4)
    seg = segment_ids.reshape(b, nb, block).transpose(1, 0, 2)
    pos = jnp.arange(nb * block).reshape(nb, block)

    def one_query_block(args: tuple[jax.Array, ...]) -> jax.Array:
        q_i, seg_i, pos_i = args  # [B, bq, K, G, D], [B, bq], [bq]
        acc0 = jnp.zeros((b, kv, g, block, d), jnp.float32)
        m0 = jnp.full((b, kv, g, block), _NEG, jnp.float32)
        l0 = jnp.zeros((b, kv, g, block), jnp.float32)

        def visit(carry: tuple[jax.Array, ...], j: jax.Array) -> tuple[jax.Array, ...]:
            m, denom, acc = carry
            s = jnp.einsum("bqkgd,bskd->bkgqs", q_i, kb[j], preferred_element_type=jnp.float32)
            s = s * scale
            mask = (seg_i[:, :, None] == seg[j][:, None, :]) & (pos_i[:, None] >= pos[j][None, :])
            mask = mask[:, None, None]  # [B, 1, 1, bq, bk]
            s = jnp.where(mask, s, _NEG)
            m_new = jnp.maximum(m, s.max(-1))
            p = jnp.where(mask, jnp.exp(s - m_new[..., None]), 0.0)
            corr = jnp.exp(m - m_new)
            pv = jnp.einsum("bkgqs,bskd->bkgqd", p.astype(v.dtype), vb[j])
            return m_new, denom * corr + p.sum(-1), acc * corr[..., None] + pv

        def step(carry: tuple[jax.Array, ...], j: jax.Array) -> tuple[tuple[jax.Array, ...], None]:
            # Key blocks entirely in the future of this query block cost nothing.
            needed = pos[j][0] <= pos_i[-1]
            return jax.lax.cond(needed, visit, lambda c, _: c, carry, j), None

        (_, denom, acc), _ = jax.lax.scan(step, (m0, l0, acc0), jnp.arange(nb))
        out = acc / jnp.maximum(denom, 1e-30)[..., None]  # every query sees at least itself
        return out.transpose(0, 3, 1, 2, 4).astype(q.dtype)  # [B, bq, K, G, D]

    out = jax.lax.map(jax.checkpoint(one_query_block), (qb, seg, pos))
    out = out.transpose(1, 0, 2, 3, 4, 5).reshape(b, nb * block, h, d)
    return out[:, :n]


def attention(
    params: dict[str, Any],
    x: jax.Array,
    positions: jax.Array,
    segment_ids: jax.Array,
    cfg: ModelConfig,
    rules: ShardingRules,
) -> jax.Array:
    """Project, rotate, attend, project back; heads are split over `model`."""
    dtype = x.dtype
    q = jnp.einsum("bld,dhk->blhk", x, params["wq"].astype(dtype))
    k = jnp.einsum("bld,dhk->blhk", x, params["wk"].astype(dtype))
    v = jnp.einsum("bld,dhk->blhk", x, params["wv"].astype(dtype))
    q = rules.constrain(rope(q, positions, cfg.rope_theta), "batch", "act_seq", "act_heads", None)
    k = rules.constrain(
        rope(k, positions, cfg.rope_theta), "batch", "act_seq", "act_kv_heads", None
    )
    v = rules.constrain(v, "batch", "act_seq", "act_kv_heads", None)
    if cfg.attention == "blockwise":
        out = blockwise_attention(q, k, v, segment_ids, cfg.attention_block)
    elif cfg.attention == "direct":
        out = direct_attention(q, k, v, segment_ids)
    else:
        raise ValueError(f"unknown attention {cfg.attention!r}")
    out = rules.constrain(out, "batch", "act_seq", "act_heads", None)
    return jnp.einsum("blhk,hkd->bld", out, params["wo"].astype(dtype))
