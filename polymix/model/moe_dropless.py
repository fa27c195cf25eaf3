"""Dropless MoE with explicit expert parallelism: each device computes only its experts.

Under `shard_map` over the whole mesh, every device holds its tokens (batch over
data x fsdp x expert, sequence over context) and its experts (E / P of them over the
`expert` axis, hidden width over `model`). Per MoE layer:

1. dispatch: sort the device's (token, choice) assignments by expert; tell each
   `expert` peer how many rows per expert it will get (`all_to_all` of counts) and
   send them with one `ragged_all_to_all`;
2. experts: order the received rows by local expert and run the SwiGLU as grouped
   matmuls (`ragged_dot`), partial sums over the `model` split of the hidden width;
3. combine: the reverse `ragged_all_to_all` brings every row home, where it is put
   back in token order, weighted by its router weight and summed over `model`.

Nothing is gathered: the collectives move each device's own assignments, and the
expert weights stay where they are (an FSDP-sharded embed dimension is gathered for
the layer, as for every other weight).

The receive buffer is by default sized for the worst case (every assignment of every
peer to this device: P * tokens * k rows): no routing can overflow it, which is what
dropless means. On GPU and TPU the grouped matmul skips the unused rows; the CPU
emulation (`model.ragged`) computes them, which costs 1.41x the capacity path's FLOPs
on the demo's (2,2,2) mesh. `dropless_buffer_factor` > 0 bounds it at that many times
the device's own assignments (MaxText's `ragged_buffer_factor`): slices land in source
order, the rows past the end are not sent, come back as zero (the token passes on the
residual, as a dropped token of the capacity path) and are counted in
`dropped_fraction`. Unlike a capacity, the bound is pooled over a device's experts.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from polymix.model.ragged import Exchange, GroupedMatmul, exclusive_cumsum, ragged_ops
from polymix.model.sharding import ShardingRules


def _has(spec: Any, i: int, axis: str) -> bool:
    entry = spec[i] if i < len(spec) else None
    return axis in ((entry,) if isinstance(entry, str) else tuple(entry or ()))


def _swiglu(rows: jax.Array, sizes: jax.Array, w: dict[str, jax.Array], gmm: GroupedMatmul):
    dtype = rows.dtype
    gate = gmm(rows, w["w_gate"].astype(dtype), sizes)
    up = gmm(rows, w["w_up"].astype(dtype), sizes)
    return gmm(jax.nn.silu(gate) * up, w["w_down"].astype(dtype), sizes)


def _group_of(position: jax.Array, sizes: jax.Array) -> jax.Array:
    """Index of the run each position falls in, for consecutive runs of `sizes`."""
    return jnp.searchsorted(jnp.cumsum(sizes), position, side="right")


def receive_rows(own_rows: int, peers: int, factor: float) -> int:
    """Rows of a device's receive buffer: `factor` x its own assignments, at most (and for
    factor 0 exactly) the worst case, every peer's every assignment."""
    worst = peers * own_rows
    if factor <= 0:
        return worst
    return min(worst, max(1, math.ceil(factor * own_rows)))


def fitting_sizes(sent: jax.Array, buffer_rows: int) -> jax.Array:
    """[source, destination] rows sent -> rows that fit in each destination's buffer.

    Slices land in source order; the part of a slice past the buffer's end is dropped.
    """
    start = jnp.cumsum(sent, axis=0) - sent
    return jnp.clip(buffer_rows - start, 0, sent).astype(sent.dtype)


def _truncate_runs(counts: jax.Array, keep: jax.Array) -> jax.Array:
    """Per-run counts [..., n] of a slice cut to its first `keep` [...] rows."""
    start = jnp.cumsum(counts, axis=-1) - counts
    return jnp.clip(keep[..., None] - start, 0, counts).astype(counts.dtype)


def _experts_remote(
    rows: jax.Array,
    counts: jax.Array,
    w: dict[str, jax.Array],
    axis: str,
    peers: int,
    exchange: Exchange,
    gmm: GroupedMatmul,
    buffer_factor: float,
) -> tuple[jax.Array, jax.Array]:
    """Sorted rows [A, d] with per-expert counts [E] -> (their expert outputs, via peers,
    zero where they did not fit; the number of rows that did not fit)."""
    local = counts.shape[0] // peers
    per_peer = counts.reshape(peers, local)
    wanted = per_peer.sum(1).astype(jnp.int32)
    buffer_rows = receive_rows(rows.shape[0], peers, buffer_factor)
    fits = fitting_sizes(jax.lax.all_gather(wanted, axis), buffer_rows)  # [source, dest]
    me = jax.lax.axis_index(axis)
    send_sizes = fits[me]
    input_offsets = exclusive_cumsum(wanted)
    recv_sizes = fits[:, me]
    recv_counts = jax.lax.all_to_all(per_peer, axis, 0, 0, tiled=True)  # [source, local expert]
    recv_counts = _truncate_runs(recv_counts, recv_sizes)
    earlier = (jnp.arange(peers) < me)[:, None]
    output_offsets = (fits * earlier).sum(0).astype(jnp.int32)
    buffer = jnp.zeros((buffer_rows, rows.shape[1]), rows.dtype)
    with jax.named_scope("moe_dispatch"):
        received = exchange(
            rows, buffer, input_offsets, send_sizes, output_offsets, recv_sizes, axis_name=axis
        )
        recv_offsets = exclusive_cumsum(recv_sizes)
        position = jnp.arange(buffer.shape[0])
        source = jnp.minimum(_group_of(position, recv_sizes), peers - 1)
        within = position - recv_offsets[source]
        expert = jax.vmap(_group_of)(within, recv_counts[source])
        expert = jnp.where(position < recv_sizes.sum(), expert, local)
        order = jnp.argsort(expert, stable=True)
    with jax.named_scope("experts"):
        out = _swiglu(received[order], recv_counts.sum(0).astype(jnp.int32), w, gmm)
    with jax.named_scope("moe_combine"):
        out = jnp.zeros_like(out).at[order].set(out)
        home = jax.lax.all_to_all(input_offsets, axis, 0, 0, tiled=True)
        back = jnp.zeros((rows.shape[0], out.shape[1]), out.dtype)
        out = exchange(out, back, recv_offsets, recv_sizes, home, send_sizes, axis_name=axis)
        return out, (wanted - send_sizes).sum()


def _dropless_local(
    x: jax.Array,
    experts: jax.Array,
    weights: jax.Array,
    w: dict[str, jax.Array],
    *,
    n_experts: int,
    peers: int,
    model_split: bool,
    exchange: Exchange,
    gmm: GroupedMatmul,
    buffer_factor: float = 0.0,
    mesh_axes: tuple[str, ...] = (),
) -> tuple[jax.Array, jax.Array]:
    """One device's tokens x [..., d] with choices [..., k] -> (the expert mixture [..., d],
    the share of assignments dropped for want of receive buffer, over `mesh_axes`)."""
    shape, d, k = x.shape, x.shape[-1], experts.shape[-1]
    flat_x = x.reshape(-1, d)
    choice = experts.reshape(-1)  # n_experts marks a padding token: never sent
    with jax.named_scope("moe_dispatch"):
        order = jnp.argsort(choice, stable=True)
        rows = flat_x[order // k]
        counts = (choice[:, None] == jnp.arange(n_experts)[None, :]).sum(0).astype(jnp.int32)
    dropped = jnp.zeros((), jnp.int32)
    if peers > 1:
        out, dropped = _experts_remote(
            rows, counts, w, "expert", peers, exchange, gmm, buffer_factor
        )
    else:
        with jax.named_scope("experts"):
            out = _swiglu(rows, counts, w, gmm)
    with jax.named_scope("moe_combine"):
        y = jnp.zeros_like(out).at[order].set(out).reshape(*shape[:-1], k, d)
        y = jnp.einsum("...kd,...k->...d", y, weights.astype(y.dtype))
        y = jax.lax.psum(y, "model") if model_split else y
    totals = jnp.stack([dropped, counts.sum()]).astype(jnp.float32)
    if mesh_axes:
        totals = jax.lax.psum(totals, mesh_axes)
    return y, totals[0] / jnp.maximum(totals[1], 1.0)


def dropless_moe(
    params: dict[str, Any],
    x: jax.Array,
    experts: jax.Array,
    weights: jax.Array,
    mask: jax.Array,
    ragged: str,
    rules: ShardingRules,
    platform: str,
    buffer_factor: float = 0.0,
) -> tuple[jax.Array, jax.Array]:
    """x [B, L, d], choices and weights [B, L, k], mask [B, L] -> (the mixture [B, L, d],
    the dropped share of assignments: 0 unless a bounded receive buffer overflowed)."""
    n_experts = params["w_gate"].shape[0]
    experts = jnp.where(mask[..., None], experts, n_experts)
    weights = weights * mask[..., None]
    exchange, gmm = ragged_ops(ragged, platform)
    w = {name: params[name] for name in ("w_gate", "w_up", "w_down")}
    if rules.mesh is None:
        return _dropless_local(
            x, experts, weights, w, n_experts=n_experts, peers=1, model_split=False,
            exchange=exchange, gmm=gmm,
        )  # fmt: skip
    x_spec = rules.spec(("batch", "act_seq", "act_embed"), x.shape)
    c_spec = rules.spec(("batch", "act_seq", None), experts.shape)
    up_spec = rules.spec(("experts", None, "expert_mlp"), w["w_gate"].shape)
    down_spec = rules.spec(("experts", "expert_mlp", None), w["w_down"].shape)
    peers = rules.axis_size("expert") if _has(up_spec, 0, "expert") else 1
    body = functools.partial(
        _dropless_local,
        n_experts=n_experts,
        peers=peers,
        model_split=_has(up_spec, 2, "model"),
        exchange=exchange,
        gmm=gmm,
        buffer_factor=buffer_factor,
        mesh_axes=tuple(rules.mesh.axis_names),
    )
    w_specs = {"w_gate": up_spec, "w_up": up_spec, "w_down": down_spec}
    return jax.shard_map(
        lambda x, e, g, w: body(x, e, g, w),
        mesh=rules.mesh,
        in_specs=(x_spec, c_spec, c_spec, w_specs),
        out_specs=(x_spec, P()),
        check_vma=False,
    )(x, experts, weights, w)
