"""Blockwise attention in plain JAX: the [L, L] score matrix never exists.

Query blocks are mapped one at a time; each walks the key blocks with an online
softmax (running max, denominator, weighted sum in float32) and is recomputed in the
backward pass (`jax.checkpoint`), so memory grows as L * block in both directions.
Key blocks entirely in a query block's future are skipped (`lax.cond`), which halves
the work of causal attention.

Queries may sit at an offset into the keys' row (`q_offset`): context parallelism
gives each device a slice of the queries and all of the keys, and causality is
decided on row indices, not on the local ones.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_NEG = -1e30


def _blocks(x: jax.Array, block: int, fill: int = 0) -> jax.Array:
    """[B, N, ...] -> [N/block, B, block, ...], padding N up to a multiple of block."""
    n = x.shape[1]
    pad = (-n) % block
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[1] = (0, pad)
        x = jnp.pad(x, widths, constant_values=fill)
    nb = x.shape[1] // block
    x = x.reshape(x.shape[0], nb, block, *x.shape[2:])
    return jnp.moveaxis(x, 1, 0)


def blockwise_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    q_segments: jax.Array,
    kv_segments: jax.Array | None = None,
    *,
    block: int,
    q_offset: jax.Array | int = 0,
) -> jax.Array:
    """q [B, Lq, H, D], k/v [B, Lk, K, D] (H a multiple of K) -> [B, Lq, H, D].

    Query i (row index `q_offset + i`) sees key j when j <= its row index and both
    carry the same segment id. Padding (segment 0) attends to padding, so no row is
    empty and nothing becomes NaN.
    """
    if kv_segments is None:
        kv_segments = q_segments
    b, n_q, h, d = q.shape
    n_k, kv = k.shape[1], k.shape[2]
    g = h // kv
    bq, bk = min(block, n_q), min(block, n_k)
    scale = d**-0.5
    qb = _blocks(q.reshape(b, n_q, kv, g, d), bq)  # [nq, B, bq, K, G, D]
    kb, vb = _blocks(k, bk), _blocks(v, bk)  # [nk, B, bk, K, D]
    # Padded queries and keys get segment -1 / -2: they never meet real ones or each other.
    q_seg, k_seg = _blocks(q_segments, bq, fill=-1), _blocks(kv_segments, bk, fill=-2)
    q_pos = jnp.arange(qb.shape[0] * bq).reshape(-1, bq) + q_offset
    k_pos = jnp.arange(kb.shape[0] * bk).reshape(-1, bk)

    def one_query_block(args: tuple[jax.Array, ...]) -> jax.Array:
        q_i, seg_i, pos_i = args  # [B, bq, K, G, D], [B, bq], [bq]
        carry0 = (
            jnp.full((b, kv, g, bq), _NEG, jnp.float32),
            jnp.zeros((b, kv, g, bq), jnp.float32),
            jnp.zeros((b, kv, g, bq, d), jnp.float32),
        )

        def visit(carry: tuple[jax.Array, ...], j: jax.Array) -> tuple[jax.Array, ...]:
            m, denom, acc = carry
            s = jnp.einsum("bqkgd,bskd->bkgqs", q_i, kb[j], preferred_element_type=jnp.float32)
            s = s * scale
            mask = (seg_i[:, :, None] == k_seg[j][:, None, :]) & (
                pos_i[:, None] >= k_pos[j][None, :]
            )
            mask = mask[:, None, None]  # [B, 1, 1, bq, bk]
            s = jnp.where(mask, s, _NEG)
            m_new = jnp.maximum(m, s.max(-1))
            p = jnp.where(mask, jnp.exp(s - m_new[..., None]), 0.0)
            corr = jnp.exp(m - m_new)
            pv = jnp.einsum("bkgqs,bskd->bkgqd", p.astype(v.dtype), vb[j])
            return m_new, denom * corr + p.sum(-1), acc * corr[..., None] + pv

        def step(carry: tuple[jax.Array, ...], j: jax.Array) -> tuple[tuple[jax.Array, ...], None]:
            needed = k_pos[j][0] <= pos_i[-1]  # anything at or before this block's last query
            return jax.lax.cond(needed, visit, lambda c, _: c, carry, j), None

        (_, denom, acc), _ = jax.lax.scan(step, carry0, jnp.arange(kb.shape[0]))
        out = acc / jnp.maximum(denom, 1e-30)[..., None]
        return out.transpose(0, 3, 1, 2, 4).astype(q.dtype)  # [B, bq, K, G, D]

    out = jax.lax.map(jax.checkpoint(one_query_block), (qb, q_seg, q_pos))
    out = jnp.moveaxis(out, 0, 1).reshape(b, -1, h, d)
    return out[:, :n_q]
