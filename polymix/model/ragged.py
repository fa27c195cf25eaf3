"""Ragged collectives and grouped matmuls, native where the backend has them.

`jax.lax.ragged_all_to_all` and `jax.lax.ragged_dot` are what expert-parallel dropless
routing is built from (MaxText's sparse path does the same). XLA:CPU implements neither
natively: it cannot compile `ragged-all-to-all` at all, and JAX lowers `ragged_dot` there
to one dense matmul per group (G times the FLOPs). The emulations below have the same
contracts and run anywhere:

- `emulated_ragged_all_to_all`: every peer's slice padded to the operand's length and
  moved by one dense `all_to_all` (so it moves P times the operand: for tests and CPU
  meshes, not for pods);
- `tiled_grouped_matmul`: rows sorted by group, each group padded to a multiple of a
  tile, one batched matmul over tiles with each tile's group weights: R + G * tile rows
  of FLOPs instead of G * R.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Exchange = Callable[..., jax.Array]
GroupedMatmul = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def exclusive_cumsum(x: jax.Array) -> jax.Array:
    return jnp.cumsum(x) - x


def emulated_ragged_all_to_all(
    operand: jax.Array,
    output: jax.Array,
    input_offsets: jax.Array,
    send_sizes: jax.Array,
    output_offsets: jax.Array,
    recv_sizes: jax.Array,
    *,
    axis_name: str,
) -> jax.Array:
    """`jax.lax.ragged_all_to_all` (one slice per peer) from a dense `all_to_all`."""
    cap = operand.shape[0]
    rows = jnp.arange(cap)
    take = jnp.clip(input_offsets[:, None] + rows[None, :], 0, cap - 1)  # [P, cap]
    sent = rows[None, :] < send_sizes[:, None]
    trailing = (1,) * (operand.ndim - 1)
    chunks = jnp.where(sent.reshape(*sent.shape, *trailing), operand[take], 0)
    received = jax.lax.all_to_all(chunks, axis_name, 0, 0)  # [P(source), cap, ...]
    starts = jax.lax.all_to_all(output_offsets, axis_name, 0, 0, tiled=True)
    dest = starts[:, None] + rows[None, :]
    dest = jnp.where(rows[None, :] < recv_sizes[:, None], dest, output.shape[0])  # dropped
    flat = received.reshape(-1, *operand.shape[1:]).astype(output.dtype)
    return output.at[dest.reshape(-1)].set(flat, mode="drop")


def native_ragged_all_to_all(*args: jax.Array, axis_name: str) -> jax.Array:
    return jax.lax.ragged_all_to_all(*args, axis_name=axis_name)


def tile_size(rows: int, groups: int) -> int:
    """A power of two near rows / (16 * groups), within [8, 512]: padding stays small."""
    target = max(8, min(512, rows // max(1, 16 * groups)))
    return 1 << (target.bit_length() - 1)


def tiled_grouped_matmul(x: jax.Array, w: jax.Array, group_sizes: jax.Array) -> jax.Array:
    """x [R, d] sorted by group, w [G, d, f], group_sizes [G] -> [R, f] (rows past the
    groups' total are zero), in (R + G * tile) rows of work."""
    rows, groups = x.shape[0], w.shape[0]
    tile = tile_size(rows, groups)
    n_tiles = -(-rows // tile) + groups
    padded = -(-group_sizes // tile) * tile
    ends = jnp.cumsum(group_sizes)
    index = jnp.arange(rows)
    group = jnp.searchsorted(ends, index, side="right")  # == groups past the last group
    valid = group < groups
    group = jnp.minimum(group, groups - 1)
    slot = exclusive_cumsum(padded)[group] + index - exclusive_cumsum(group_sizes)[group]
    slot = jnp.where(valid, slot, n_tiles * tile)
    buf = jnp.zeros((n_tiles * tile, x.shape[1]), x.dtype).at[slot].set(x, mode="drop")
    tile_group = jnp.searchsorted(jnp.cumsum(padded), jnp.arange(n_tiles) * tile, side="right")
    weights = w[jnp.minimum(tile_group, groups - 1)]  # [n_tiles, d, f]
    out = jnp.einsum("ntd,ndf->ntf", buf.reshape(n_tiles, tile, -1), weights)
    out = out.reshape(n_tiles * tile, -1)
    return jnp.where(valid[:, None], jnp.take(out, slot, axis=0, mode="fill", fill_value=0), 0)


def native_grouped_matmul(x: jax.Array, w: jax.Array, group_sizes: jax.Array) -> jax.Array:
    out = jax.lax.ragged_dot(x, w, group_sizes)
    valid = jnp.arange(x.shape[0]) < group_sizes.sum()
    return jnp.where(valid[:, None], out, 0)


def ragged_ops(kind: str, platform: str) -> tuple[Exchange, GroupedMatmul]:
    """(exchange, grouped matmul) for `ModelConfig.ragged_collectives` on `platform`."""
    native = kind == "native" or (kind == "auto" and platform in ("gpu", "tpu"))
    if native:
        return native_ragged_all_to_all, native_grouped_matmul
    return emulated_ragged_all_to_all, tiled_grouped_matmul
