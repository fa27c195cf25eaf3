"""Next-token cross-entropy without the full [tokens, vocab] logits.

The head's logits are the largest activation of a 256k-vocabulary model (B * L * V
elements, and their float32 gradient as large again). Here the positions of each row
are taken in chunks of `chunk`; one chunk's logits exist at a time, and `jax.checkpoint`
recomputes them in the backward pass instead of keeping them. A chunk takes every
(L / chunk)-th position, so under context parallelism (the sequence split over
`context`) each device still works on its own positions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from polymix.model.sharding import ShardingRules


def _nll(x: jax.Array, head: jax.Array, targets: jax.Array, rules: ShardingRules) -> jax.Array:
    """Per-position negative log-likelihood in float32 for one chunk [B, c, d]."""
    logits = jnp.einsum("bld,dv->blv", x, head.astype(x.dtype))
    logits = rules.constrain(logits, "batch", "act_seq", "act_vocab").astype(jnp.float32)
    target = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(logits, axis=-1) - target


def _strided(x: jax.Array, chunks: int) -> jax.Array:
    """[B, L, ...] -> [chunks, B, L / chunks, ...]; chunk i holds positions i, i + chunks, ..."""
    b, n = x.shape[:2]
    return jnp.moveaxis(x.reshape(b, n // chunks, chunks, *x.shape[2:]), 2, 0)


def cross_entropy_sum(
    x: jax.Array,
    head: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    chunk: int,
    rules: ShardingRules,
) -> jax.Array:
    """Sum of masked next-token NLL over [B, L] positions of final hidden states x [B, L, d].

    `chunk` positions per row at a time; 0 (or a chunk that does not divide L) takes the
    whole row at once.
    """
    n = x.shape[1]
    weights = mask.astype(jnp.float32)
    if chunk <= 0 or chunk >= n or n % chunk:
        return (_nll(x, head, targets, rules) * weights).sum()
    chunks = n // chunk
    xs, ts, ws = _strided(x, chunks), _strided(targets, chunks), _strided(weights, chunks)

    @jax.checkpoint
    def one(x_c: jax.Array, t_c: jax.Array, w_c: jax.Array) -> jax.Array:
        x_c = rules.constrain(x_c, "batch", "act_seq", "act_embed")
        return (_nll(x_c, head, t_c, rules) * w_c).sum()

    def body(total: jax.Array, args: tuple[jax.Array, ...]) -> tuple[jax.Array, None]:
        return total + one(*args), None

    total, _ = jax.lax.scan(body, jnp.zeros((), jnp.float32), (xs, ts, ws))
    return total
