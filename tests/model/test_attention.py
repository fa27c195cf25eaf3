"""Attention kernels: blockwise == XLA, splash (interpreted) == XLA, causal, no attention
across packed documents, the kernel `auto` picks per platform, cuDNN's segment layout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from polymix.model.attention import describe_attention, resolve_attention, xla_attention
from polymix.model.blockwise import blockwise_attention
from polymix.model.config import get_config
from polymix.model.fused_attention import packed_segments, splash_attention
from polymix.model.sharding import MESH_AXES, ShardingRules


def _qkv(b: int = 2, n: int = 24, h: int = 4, kv: int = 2, d: int = 8, seed: int = 0):
    keys = jax.random.split(jax.random.key(seed), 3)
    q = jax.random.normal(keys[0], (b, n, h, d))
    k = jax.random.normal(keys[1], (b, n, kv, d))
    v = jax.random.normal(keys[2], (b, n, kv, d))
    return q, k, v


def _segments(b: int, n: int) -> jnp.ndarray:
    seg = np.zeros((b, n), np.int32)
    seg[0, :10], seg[0, 10:20] = 1, 2  # two documents then padding
    seg[1:, :] = 1
    return jnp.asarray(seg)


def _blockwise(block: int = 8):
    return lambda q, k, v, s: blockwise_attention(q, k, v, s, block=block)


@pytest.mark.parametrize("block", [8, 7, 64])
def test_blockwise_equals_xla(block: int) -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)
    want = xla_attention(q, k, v, seg)
    got = jax.jit(_blockwise(block))(q, k, v, seg)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_queries_at_an_offset_see_the_whole_row_before_them() -> None:
    """Context parallelism: a device's slice of queries against all keys of the row."""
    q, k, v = _qkv()
    seg = _segments(2, 24)
    want = xla_attention(q, k, v, seg)[:, 12:]
    got = blockwise_attention(q[:, 12:], k, v, seg[:, 12:], seg, block=8, q_offset=12)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_blockwise_gradients_equal_xla() -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)

    def grads(fn):
        grad = jax.grad(lambda q, k, v: (fn(q, k, v) ** 2).sum(), argnums=(0, 1, 2))
        return jax.jit(grad)(q, k, v)

    want = grads(lambda q, k, v: xla_attention(q, k, v, seg))
    got = grads(lambda q, k, v: blockwise_attention(q, k, v, seg, block=8))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["xla", "blockwise"])
def test_causal_future_does_not_leak(impl: str) -> None:
    q, k, v = _qkv()
    seg = jnp.ones((2, 24), jnp.int32)
    fn = xla_attention if impl == "xla" else _blockwise()
    base = fn(q, k, v, seg)
    # Change keys and values from position 12 on: outputs before 12 must not move.
    k2 = k.at[:, 12:].set(jax.random.normal(jax.random.key(9), k[:, 12:].shape))
    v2 = v.at[:, 12:].add(5.0)
    moved = fn(q, k2, v2, seg)
    np.testing.assert_allclose(moved[:, :12], base[:, :12], rtol=1e-6, atol=1e-6)
    assert not np.allclose(moved[:, 12:], base[:, 12:])


@pytest.mark.parametrize("impl", ["xla", "blockwise"])
def test_documents_never_attend_across(impl: str) -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)
    fn = xla_attention if impl == "xla" else _blockwise()
    base = fn(q, k, v, seg)
    # Rewrite document 1 of row 0 entirely: document 2 (positions 10..19) must not notice.
    k2 = k.at[0, :10].multiply(-3.0)
    v2 = v.at[0, :10].add(7.0)
    moved = fn(q, k2, v2, seg)
    np.testing.assert_allclose(moved[0, 10:20], base[0, 10:20], rtol=1e-6, atol=1e-6)
    assert not np.allclose(moved[0, :10], base[0, :10])
    # A document's first token sees only itself: its output is its own value.
    np.testing.assert_allclose(base[0, 10], jnp.repeat(v[0, 10], 2, axis=0), rtol=1e-5)
    assert np.isfinite(np.asarray(base)).all()  # padding rows stay finite


def _temp_bytes(fn, n: int) -> int:
    q, k, v = _qkv(b=1, n=n, h=2, kv=2, d=16)
    seg = jnp.ones((1, n), jnp.int32)

    def loss(q, k, v):
        return fn(q, k, v, seg).sum()

    compiled = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(q, k, v).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_blockwise_memory_grows_linearly() -> None:
    """Doubling the context roughly doubles blockwise scratch memory, but quadruples XLA's."""
    block = _blockwise(64)
    small, large = _temp_bytes(block, 512), _temp_bytes(block, 1024)
    xla_small, xla_large = (_temp_bytes(xla_attention, n) for n in (512, 1024))
    assert large / small < 2.6
    assert xla_large / xla_small > 3.0
    assert large < xla_large / 4


def test_splash_kernel_equals_xla_in_the_pallas_interpreter() -> None:
    """The TPU kernel itself (Pallas splash attention, GQA, segment ids), interpreted."""
    q, k, v = _qkv(b=1, n=128, h=2, kv=1, d=32, seed=3)
    seg = jnp.asarray(np.repeat([[1, 2]], 64, axis=1).astype(np.int32))
    want = xla_attention(q, k, v, seg)
    got = splash_attention(q, k, v, seg, block=128, interpret=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_packed_segments_give_cudnn_offsets_and_lengths() -> None:
    seg = jnp.asarray([[1, 1, 1, 2, 2, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]], jnp.int32)
    lengths, starts = packed_segments(seg, max_segments=4)
    np.testing.assert_array_equal(lengths, [[3, 2, 3, -1], [8, -1, -1, -1]])
    np.testing.assert_array_equal(starts, [[0, 3, 5, -1, -1], [0, -1, -1, -1, -1]])


def test_auto_picks_the_platforms_kernel() -> None:
    demo = get_config("demo")
    assert resolve_attention(demo, "cpu") == "blockwise"
    assert resolve_attention(demo, "tpu") == "splash"
    assert resolve_attention(demo, "gpu") == "blockwise"  # cuDNN needs bf16/fp16
    assert resolve_attention(demo.replace(dtype="bfloat16"), "gpu") == "cudnn"
    assert resolve_attention(demo.replace(attention="xla"), "tpu") == "xla"
    with pytest.raises(ValueError, match="attention='flash'"):
        demo.replace(attention="flash")


def test_the_recorded_kernel_names_the_context_split() -> None:
    mesh = jax.sharding.AbstractMesh((1, 1, 4, 1, 1), MESH_AXES)
    rules = ShardingRules(mesh)  # type: ignore[arg-type]
    cfg = get_config("demo")
    assert describe_attention(cfg, rules, 256) == "blockwise + context parallel x4"
    assert describe_attention(cfg, ShardingRules(), 256) == "blockwise"
