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
the layer, as for every other weight). The receive buffer is sized for the worst
case (every assignment of every peer to this device: P * tokens * k rows), as in
MaxText: no routing can overflow it, which is what dropless means. On GPU and TPU the
grouped matmul skips the unused rows; the CPU emulation (`model.ragged`) computes them.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

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


def _experts_remote(
    rows: jax.Array,
    counts: jax.Array,
    w: dict[str, jax.Array],
    axis: str,
    peers: int,
    exchange: Exchange,
    gmm: GroupedMatmul,
) -> jax.Array:
    """Sorted rows [A, d] with per-expert counts [E] -> their expert outputs, via peers."""
    local = counts.shape[0] // peers
    per_peer = counts.reshape(peers, local)
    send_sizes = per_peer.sum(1).astype(jnp.int32)
    input_offsets = exclusive_cumsum(send_sizes)
    recv_counts = jax.lax.all_to_all(per_peer, axis, 0, 0, tiled=True)  # [source, local expert]
    recv_sizes = recv_counts.sum(1).astype(jnp.int32)
    sent_by_all = jax.lax.all_gather(send_sizes, axis)  # [source, destination]
    me = jax.lax.axis_index(axis)
    earlier = (jnp.arange(peers) < me)[:, None]
    output_offsets = (sent_by_all * earlier).sum(0).astype(jnp.int32)
    buffer = jnp.zeros((peers * rows.shape[0], rows.shape[1]), rows.dtype)
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
        return exchange(out, back, recv_offsets, recv_sizes, home, send_sizes, axis_name=axis)


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
) -> jax.Array:
    """One device's tokens x [..., d] with choices [..., k] -> the expert mixture [..., d]."""
    shape, d, k = x.shape, x.shape[-1], experts.shape[-1]
    flat_x = x.reshape(-1, d)
    choice = experts.reshape(-1)  # n_experts marks a padding token: never sent
    with jax.named_scope("moe_dispatch"):
        order = jnp.argsort(choice, stable=True)
        rows = flat_x[order // k]
        counts = (choice[:, None] == jnp.arange(n_experts)[None, :]).sum(0).astype(jnp.int32)
    if peers > 1:
        out = _experts_remote(rows, counts, w, "expert", peers, exchange, gmm)
    else:
        with jax.named_scope("experts"):
            out = _swiglu(rows, counts, w, gmm)
    with jax.named_scope("moe_combine"):
        y = jnp.zeros_like(out).at[order].set(out).reshape(*shape[:-1], k, d)
        y = jnp.einsum("...kd,...k->...d", y, weights.astype(y.dtype))
        return jax.lax.psum(y, "model") if model_split else y


def dropless_moe(
    params: dict[str, Any],
    x: jax.Array,
    experts: jax.Array,
    weights: jax.Array,
    mask: jax.Array,
    ragged: str,
    rules: ShardingRules,
    platform: str,
) -> jax.Array:
    """x [B, L, d], choices and weights [B, L, k], mask [B, L] -> the mixture [B, L, d]."""
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
    )
    w_specs = {"w_gate": up_spec, "w_up": up_spec, "w_down": down_spec}
    return jax.shard_map(
        lambda x, e, g, w: body(x, e, g, w),
        mesh=rules.mesh,
        in_specs=(x_spec, c_spec, c_spec, w_specs),
        out_specs=x_spec,
        check_vma=False,
    )(x, experts, weights, w)
