"""The platforms' fused attention kernels, with packed-document (segment) masking.

- GPU: cuDNN flash attention through JAX's cuDNN binding in its packed ("THD") layout:
  each row's documents are passed as segment offsets and lengths, so causal masking
  applies within each document and no [L, L] mask or bias is ever built (a boolean
  mask would be turned into a dense bias of B * L * L elements: 2 GB per row at 32k).
  cuDNN needs bfloat16/float16 inputs and compute capability 9.0 for packing.
- TPU: Pallas splash attention with a causal mask and `SegmentIds`; GQA is native.
  `interpret=True` runs the same kernel through the Pallas interpreter (any backend),
  which is how its numerics are tested without a TPU.

Both are per-device kernels: `attention.py` runs them inside `shard_map` over the
batch and head axes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def packed_segments(segment_ids: jax.Array, max_segments: int) -> tuple[jax.Array, jax.Array]:
    """[B, L] segment ids -> (lengths [B, M], starts [B, M + 1]) of each contiguous run.

    Entries past a row's last run are -1, the convention of JAX's cuDNN binding. A run is
    a maximal stretch of equal ids, so trailing padding (id 0) is one more run that
    attends to itself, as on the other paths.
    """
    n = segment_ids.shape[-1]
    first = jnp.ones(segment_ids.shape[:-1] + (1,), bool)
    is_start = jnp.concatenate([first, segment_ids[..., 1:] != segment_ids[..., :-1]], -1)

    def one_row(starts_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        (starts,) = jnp.nonzero(starts_mask, size=max_segments + 1, fill_value=-1)
        following = jnp.concatenate([starts[1:], jnp.array([-1], starts.dtype)])
        ends = jnp.where(following >= 0, following, n)
        lengths = jnp.where(starts >= 0, ends - starts, -1)
        return lengths[:max_segments].astype(jnp.int32), starts.astype(jnp.int32)

    return jax.vmap(one_row)(is_start)


def cudnn_attention(q: jax.Array, k: jax.Array, v: jax.Array, segment_ids: jax.Array) -> jax.Array:
    """q [B, L, H, D], k/v [B, L, K, D] on one GPU -> [B, L, H, D], causal per document."""
    from jax._src.cudnn.fused_attention_stablehlo import MaskType
    from jax._src.cudnn.fused_attention_stablehlo import dot_product_attention as sdpa

    lengths, starts = packed_segments(segment_ids, max_segments=q.shape[1])
    return sdpa(
        q,
        k,
        v,
        q_seqlen=lengths,
        kv_seqlen=lengths,
        q_offsets=starts,
        kv_offsets=starts,
        scale=q.shape[-1] ** -0.5,
        mask_type=MaskType.CAUSAL,
        qkv_layout="BTNH",
    )


@functools.lru_cache(maxsize=32)
def _splash_kernel(seq_len: int, heads: int, block: int, interpret: bool):
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as sm

    mask = sm.MultiHeadMask([sm.CausalMask((seq_len, seq_len)) for _ in range(heads)])
    b = min(block, seq_len)
    sizes = sk.BlockSizes(
        block_q=b,
        block_kv=b,
        block_kv_compute=b,
        block_q_dkv=b,
        block_kv_dkv=b,
        block_kv_dkv_compute=b,
        block_q_dq=b,
        block_kv_dq=b,
    )
    return sk.make_splash_mha(
        mask, head_shards=1, q_seq_shards=1, block_sizes=sizes, interpret=interpret
    )


def splash_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    segment_ids: jax.Array,
    *,
    block: int,
    interpret: bool = False,
) -> jax.Array:
    """q [B, L, H, D], k/v [B, L, K, D] on one TPU core -> [B, L, H, D]."""
    from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as sk

    _, n, h, d = q.shape
    kernel = _splash_kernel(n, h, block, interpret)
    qt = (q * d**-0.5).transpose(0, 2, 1, 3)  # splash leaves the scale to the caller
    kt, vt = k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
    seg = segment_ids.astype(jnp.int32)
    out = jax.vmap(lambda a, b, c, s: kernel(a, b, c, segment_ids=sk.SegmentIds(s, s)))(
        qt, kt, vt, seg
    )
    return out.transpose(0, 2, 1, 3)
