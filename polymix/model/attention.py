"""Grouped-query attention with causal + segment masking, through the platform's kernel.

`resolve_attention` turns `ModelConfig.attention` into the implementation a run uses
(and records): cuDNN flash attention on GPU, Pallas splash attention on TPU, the
blockwise path elsewhere; `xla` is `jax.nn.dot_product_attention(implementation="xla")`,
plain XLA that materializes the whole [B, H, L, L] score matrix (fine for short rows).

Context parallelism: when the `context` mesh axis splits the sequence, each device
keeps its slice of the queries, all-gathers keys, values and segment ids over
`context` (their gradients come back as a reduce-scatter), and runs the blockwise
kernel with its queries' row offset, so causality and document boundaries are those
of the whole row. Keys and values are the small side under GQA (K of H heads), which
is why they travel rather than the queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from polymix.model.blockwise import blockwise_attention
from polymix.model.config import ModelConfig
from polymix.model.fused_attention import cudnn_attention, splash_attention
from polymix.model.layers import rope
from polymix.model.params import ParamInfo
from polymix.model.sharding import ShardingRules

LocalKernel = Callable[..., jax.Array]


def attention_info(cfg: ModelConfig) -> dict[str, ParamInfo]:
    d, h, k, hd = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    std_out = cfg.init_std / (2 * cfg.n_layers) ** 0.5
    return {
        "wq": ParamInfo((d, h, hd), ("embed", "heads", "head_dim"), std=cfg.init_std),
        "wk": ParamInfo((d, k, hd), ("embed", "kv_heads", "head_dim"), std=cfg.init_std),
        "wv": ParamInfo((d, k, hd), ("embed", "kv_heads", "head_dim"), std=cfg.init_std),
        "wo": ParamInfo((h, hd, d), ("heads", "head_dim", "embed"), std=std_out),
    }


def platform_of(rules: ShardingRules) -> str:
    if rules.mesh is not None and hasattr(rules.mesh, "devices"):
        return rules.mesh.devices.flat[0].platform
    return jax.default_backend()


def resolve_attention(cfg: ModelConfig, platform: str) -> str:
    """The kernel `attention="auto"` means on `platform` ("cpu", "gpu", "tpu")."""
    if cfg.attention != "auto":
        return cfg.attention
    if platform == "tpu":
        return "splash"
    half = cfg.dtype in ("bfloat16", "float16")
    if platform == "gpu" and half and cfg.head_dim <= 128 and cfg.head_dim % 8 == 0:
        return "cudnn"
    return "blockwise"


def describe_attention(cfg: ModelConfig, rules: ShardingRules, seq_len: int) -> str:
    """What a run records: the kernel, and the context split when there is one."""
    context = rules.axis_size("context") if rules.splits("act_seq", seq_len, "context") else 1
    kernel = "blockwise" if context > 1 else resolve_attention(cfg, platform_of(rules))
    return f"{kernel} + context parallel x{context}" if context > 1 else kernel


def attention_mask(segment_ids: jax.Array) -> jax.Array:
    """[B, 1, L, L]: attend backwards, and only within the same packed document.

    Padding (segment 0) attends to padding, so no row is fully masked and no NaN
    can appear; padding never reaches the loss.
    """
    n = segment_ids.shape[-1]
    causal = jnp.tril(jnp.ones((n, n), dtype=bool))
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    return (same & causal)[:, None]


def xla_attention(q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array) -> jax.Array:
    """q [B, L, H, D], k/v [B, L, K, D] with H a multiple of K (GQA); O(L^2) memory."""
    mask = attention_mask(segment_ids)
    return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation="xla")


def _has(entry: Any, axis: str) -> bool:
    return axis in ((entry,) if isinstance(entry, str) else tuple(entry or ()))


def _entry(spec: Any, i: int) -> Any:
    return spec[i] if i < len(spec) else None


def _local_kv_heads(k: jax.Array, n_heads: int, n_local: int, split: bool) -> jax.Array:
    """The key/value heads this device's query heads read, one per query head if needed.

    When `model` splits the query heads but not the (fewer) key/value heads, each
    device holds all K of them and picks its queries' groups.
    """
    if not split:
        return k
    group = n_heads // k.shape[2]
    first = jax.lax.axis_index("model") * n_local
    return jnp.take(k, (first + jnp.arange(n_local)) // group, axis=2)


def _per_device(
    kernel: LocalKernel,
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    segment_ids: jax.Array,
    rules: ShardingRules,
) -> jax.Array:
    """Run a per-device kernel under `shard_map`; gathers K/V over `context` if split."""
    if rules.mesh is None:
        return kernel(q, k, v, segment_ids, segment_ids, 0)
    q_spec = rules.spec(("batch", "act_seq", "act_heads", None), q.shape)
    kv_spec = rules.spec(("batch", "act_seq", "act_kv_heads", None), k.shape)
    seg_spec = rules.spec(("batch", "act_seq"), segment_ids.shape)
    context = _has(_entry(q_spec, 1), "context")
    q_split, kv_split = _has(_entry(q_spec, 2), "model"), _has(_entry(kv_spec, 2), "model")
    n_heads = q.shape[2]

    def body(q: jax.Array, k: jax.Array, v: jax.Array, seg: jax.Array) -> jax.Array:
        offset, k_seg = 0, seg
        if context:
            offset = jax.lax.axis_index("context") * q.shape[1]
            k, v, k_seg = (
                jax.lax.all_gather(t, "context", axis=1, tiled=True) for t in (k, v, seg)
            )
        k = _local_kv_heads(k, n_heads, q.shape[2], q_split and not kv_split)
        v = _local_kv_heads(v, n_heads, q.shape[2], q_split and not kv_split)
        return kernel(q, k, v, seg, k_seg, offset)

    return jax.shard_map(
        body,
        mesh=rules.mesh,
        in_specs=(q_spec, kv_spec, kv_spec, seg_spec),
        out_specs=q_spec,
        check_vma=False,
    )(q, k, v, segment_ids)


def attend(
    q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array, cfg: ModelConfig, rules
) -> jax.Array:
    """The resolved kernel on [B, L, H, D] queries and [B, L, K, D] keys/values."""
    n = q.shape[1]
    if rules.splits("act_seq", n, "context"):
        block = cfg.attention_block
        return _per_device(
            lambda q, k, v, s, ks, off: blockwise_attention(
                q, k, v, s, ks, block=block, q_offset=off
            ),
            q,
            k,
            v,
            segment_ids,
            rules,
        )
    impl = resolve_attention(cfg, platform_of(rules))
    if impl == "xla":
        return xla_attention(q, k, v, segment_ids)
    if impl == "blockwise":
        return blockwise_attention(q, k, v, segment_ids, block=cfg.attention_block)
    if impl == "splash":
        interpret = platform_of(rules) != "tpu"
        kernel = lambda q, k, v, s, _ks, _off: splash_attention(  # noqa: E731
            q, k, v, s, block=cfg.attention_block, interpret=interpret
        )
        return _per_device(kernel, q, k, v, segment_ids, rules)
    if impl == "cudnn":
        return _per_device(
            lambda q, k, v, s, _ks, _off: cudnn_attention(q, k, v, s), q, k, v, segment_ids, rules
        )
    raise ValueError(f"unknown attention {impl!r}")


def attention(
    params: dict[str, Any],
    x: jax.Array,
    positions: jax.Array,
    segment_ids: jax.Array,
    cfg: ModelConfig,
    rules: ShardingRules,
) -> jax.Array:
    """Project, rotate, attend, project back; heads are split over `model`."""
    with jax.named_scope("attention"):
        dtype = x.dtype
        q = jnp.einsum("bld,dhk->blhk", x, params["wq"].astype(dtype))
        k = jnp.einsum("bld,dhk->blhk", x, params["wk"].astype(dtype))
        v = jnp.einsum("bld,dhk->blhk", x, params["wv"].astype(dtype))
        theta, scaling = cfg.rope_theta, cfg.rope_scaling
        q = rope(q, positions, theta, scaling)
        k = rope(k, positions, theta, scaling)
        q = rules.constrain(q, "batch", "act_seq", "act_heads", None)
        k = rules.constrain(k, "batch", "act_seq", "act_kv_heads", None)
        v = rules.constrain(v, "batch", "act_seq", "act_kv_heads", None)
        out = attend(q, k, v, segment_ids, cfg, rules)
        out = rules.constrain(out, "batch", "act_seq", "act_heads", None)
        return jnp.einsum("blhk,hkd->bld", out, params["wo"].astype(dtype))
