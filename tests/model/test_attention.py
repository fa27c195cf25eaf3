"""Attention: blockwise == direct, causal, no attention across packed documents."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from polymix.model.attention import blockwise_attention, direct_attention


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


@pytest.mark.parametrize("block", [8, 7, 64])
def test_blockwise_equals_direct(block: int) -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)
    want = direct_attention(q, k, v, seg)
    got = jax.jit(blockwise_attention, static_argnums=4)(q, k, v, seg, block)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_blockwise_gradients_equal_direct() -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)

    def loss(fn):
        grad = jax.grad(lambda q, k, v: (fn(q, k, v) ** 2).sum(), argnums=(0, 1, 2))
        return jax.jit(grad)(q, k, v)

    want = loss(lambda q, k, v: direct_attention(q, k, v, seg))
    got = loss(lambda q, k, v: blockwise_attention(q, k, v, seg, 8))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["direct", "blockwise"])
def test_causal_future_does_not_leak(impl: str) -> None:
    q, k, v = _qkv()
    seg = jnp.ones((2, 24), jnp.int32)
    fn = direct_attention if impl == "direct" else lambda *a: blockwise_attention(*a, 8)
    base = fn(q, k, v, seg)
    # Change keys and values from position 12 on: outputs before 12 must not move.
    k2 = k.at[:, 12:].set(jax.random.normal(jax.random.key(9), k[:, 12:].shape))
    v2 = v.at[:, 12:].add(5.0)
    moved = fn(q, k2, v2, seg)
    np.testing.assert_allclose(moved[:, :12], base[:, :12], rtol=1e-6, atol=1e-6)
    assert not np.allclose(moved[:, 12:], base[:, 12:])


@pytest.mark.parametrize("impl", ["direct", "blockwise"])
def test_documents_never_attend_across(impl: str) -> None:
    q, k, v = _qkv()
    seg = _segments(2, 24)
    fn = direct_attention if impl == "direct" else lambda *a: blockwise_attention(*a, 8)
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
    analysis = compiled.memory_analysis()
    if analysis is None:
        pytest.skip("backend reports no memory analysis")
    return analysis.temp_size_in_bytes


def test_blockwise_memory_grows_linearly() -> None:
    """Doubling the context roughly doubles blockwise scratch memory, but quadruples direct."""
    block = lambda q, k, v, s: blockwise_attention(q, k, v, s, 64)  # noqa: E731
    small, large = _temp_bytes(block, 512), _temp_bytes(block, 1024)
    direct_small, direct_large = (_temp_bytes(direct_attention, n) for n in (512, 1024))
    assert large / small < 2.6
    assert direct_large / direct_small > 3.0
    assert large < direct_large / 4
