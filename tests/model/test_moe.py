"""MoE layer: routing, capacity and dropping, dropless == dense, the ragged pieces, losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from polymix.model.config import ModelConfig, get_config
from polymix.model.moe import capacity_slots, load_balance_loss, moe, moe_info, route, router_z_loss
from polymix.model.params import init_from_info
from polymix.model.ragged import emulated_ragged_all_to_all, tiled_grouped_matmul
from polymix.model.sharding import NO_SHARDING

G, S = 2, 16


def _setup(**changes):
    cfg = get_config("tiny").replace(**changes)
    params = init_from_info(moe_info(cfg), jax.random.key(0))
    params["router"] = jax.random.normal(jax.random.key(1), params["router"].shape)
    x = jax.random.normal(jax.random.key(2), (G, S, cfg.d_model))
    return cfg, params, x


def _dense_reference(params, x, experts, weights, keep):
    """Every expert on every token, then the routed mixture: the slow obvious answer."""
    gate = jnp.einsum("gsd,edf->gsef", x, params["w_gate"])
    up = jnp.einsum("gsd,edf->gsef", x, params["w_up"])
    every = jnp.einsum("gsef,efd->gsed", jax.nn.silu(gate) * up, params["w_down"])
    picked = jnp.take_along_axis(every, experts[..., None], axis=2)  # [G, S, k, d]
    return jnp.einsum("gskd,gsk->gsd", picked, weights * keep)


def test_capacity_defaults_separate_train_and_eval() -> None:
    cfg = ModelConfig()
    assert (cfg.capacity_factor_train, cfg.capacity_factor_eval) == (1.25, 2.0)
    assert cfg.capacity(64, train=False) > cfg.capacity(64, train=True)


def test_dropless_equals_dense_computation_of_selected_experts() -> None:
    cfg, params, x = _setup(dropless=True)
    mask = jnp.ones((G, S), bool)
    out, stats = moe(params, x, mask, cfg, NO_SHARDING)
    experts, weights, _, _ = route(x, params["router"], cfg.top_k)
    want = _dense_reference(params, x, experts, weights, jnp.ones_like(weights))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert float(stats["dropped_fraction"]) == 0.0


def test_ample_capacity_equals_dropless() -> None:
    cfg, params, x = _setup(capacity_factor_train=4.0)
    mask = jnp.ones((G, S), bool)
    with_capacity, stats = moe(params, x, mask, cfg, NO_SHARDING)
    dropless, _ = moe(params, x, mask, cfg.replace(dropless=True), NO_SHARDING)
    np.testing.assert_allclose(with_capacity, dropless, rtol=1e-5, atol=1e-6)
    assert float(stats["dropped_fraction"]) == 0.0


def test_capacity_drops_overflow_and_dropped_tokens_pass_through() -> None:
    cfg, params, x = _setup(capacity_factor_train=0.5)
    # Make feature 0 dominate the router's expert-0 logit: every token's first choice is
    # expert 0, so most first choices must overflow.
    params["router"] = params["router"].at[0, 0].set(1.0)
    x = x.at[..., 0].set(100.0)
    mask = jnp.ones((G, S), bool)
    capacity = cfg.capacity(S, train=True)
    experts, weights, _, _ = route(x, params["router"], cfg.top_k)
    slot, keep = capacity_slots(experts, mask, cfg.n_experts, capacity)

    # No expert ever holds more than `capacity` tokens per group.
    for e in range(cfg.n_experts):
        assert int(((experts == e) & keep).sum(axis=(1, 2)).max()) <= capacity
    # Kept assignments sit in distinct slots inside their own expert's range.
    for g in range(G):
        kept = np.asarray(keep[g])
        slots = np.asarray(slot[g])[kept]
        assert len(set(slots.tolist())) == len(slots)
        np.testing.assert_array_equal(slots // capacity, np.asarray(experts[g])[kept])
    first_choice_kept = np.asarray(keep[..., 0]).sum(axis=1)
    assert (first_choice_kept == capacity).all()  # expert 0 filled by the earliest tokens
    assert np.asarray(keep[:, :capacity, 0]).all()

    out, stats = moe(params, x, mask, cfg, NO_SHARDING)
    np.testing.assert_allclose(
        out, _dense_reference(params, x, experts, weights, keep), rtol=1e-5, atol=1e-6
    )
    dropped_all = ~np.asarray(keep).any(-1)
    assert dropped_all.any()
    # A token every expert refused adds nothing: x + moe(x) == x on the residual path.
    np.testing.assert_array_equal(np.asarray(out)[dropped_all], 0.0)
    np.testing.assert_array_equal(np.asarray(x + out)[dropped_all], np.asarray(x)[dropped_all])
    want_fraction = 1.0 - np.asarray(keep).sum() / keep.size
    assert float(stats["dropped_fraction"]) == pytest.approx(want_fraction)
    # Eval capacity (2.0) drops less than train capacity for the same tokens.
    _, eval_stats = moe(
        params, x, mask, cfg.replace(capacity_factor_eval=2.0), NO_SHARDING, train=False
    )
    assert float(eval_stats["dropped_fraction"]) < float(stats["dropped_fraction"])


@pytest.mark.parametrize("dropless", [False, True])
def test_padding_takes_no_capacity_and_gets_no_output(dropless: bool) -> None:
    cfg, params, x = _setup(dropless=dropless)
    mask = jnp.ones((G, S), bool).at[:, S // 2 :].set(False)
    out, stats = moe(params, x, mask, cfg, NO_SHARDING)
    np.testing.assert_array_equal(np.asarray(out)[:, S // 2 :], 0.0)
    np.testing.assert_allclose(stats["expert_load"].sum(), 1.0, rtol=1e-6)


def test_aux_loss_is_coefficient_at_perfect_balance_and_larger_otherwise() -> None:
    n_experts, coef, tokens = 4, 0.01, 8
    mask = jnp.ones((tokens,), bool)
    balanced = jnp.stack([jnp.arange(tokens) % n_experts, (jnp.arange(tokens) + 1) % n_experts], 1)
    uniform = jnp.full((tokens, n_experts), 1.0 / n_experts)
    loss, load = load_balance_loss(balanced, uniform, mask, coef)
    assert float(loss) == pytest.approx(1.0 * coef, rel=1e-6)
    np.testing.assert_allclose(load, 1.0 / n_experts)

    skewed = jnp.tile(jnp.array([[0, 1]]), (tokens, 1))
    peaked = jnp.tile(jnp.array([[0.6, 0.3, 0.05, 0.05]]), (tokens, 1))
    assert float(load_balance_loss(skewed, peaked, mask, coef)[0]) > coef


def test_z_loss_matches_formula() -> None:
    logits = jax.random.normal(jax.random.key(3), (G, S, 4)) * 3.0
    mask = jnp.ones((G, S), bool).at[0, :4].set(False)
    got = router_z_loss(logits, mask, 0.001)
    z = np.log(np.exp(np.asarray(logits, np.float64)).sum(-1)) ** 2
    want = 0.001 * z[np.asarray(mask)].mean()
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_router_weights_sum_to_one_and_pick_the_top_k() -> None:
    cfg, params, x = _setup()
    experts, weights, probs, logits = route(x.astype(jnp.bfloat16), params["router"], cfg.top_k)
    assert logits.dtype == jnp.float32 and weights.dtype == jnp.float32
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    top = np.sort(np.asarray(probs), axis=-1)[..., -cfg.top_k :]
    chosen = np.take_along_axis(np.asarray(probs), np.asarray(experts), axis=-1)
    np.testing.assert_allclose(np.sort(chosen, -1), top, rtol=1e-6)


def test_router_in_float32_keeps_near_ties_apart() -> None:
    """Expert 1's logit is 32 + 2^-8, expert 0's 32: bfloat16 (8 bits of mantissa, steps of
    0.25 at 32) rounds both to 32 and the tie goes to expert 0. Only a float32 router
    sees that expert 1 is ahead, whatever dtype the activations and parameters are in."""
    d = 64
    router = jnp.full((d, 4), 0.25, jnp.bfloat16).at[:, 1].set(0.5).at[:, 0].set(0.5)
    router = router.at[0, 1].add(2.0**-8)
    x = jnp.ones((1, 1, d), jnp.bfloat16)
    experts, _, _, logits = route(x, router, top_k=1)
    assert int(experts[0, 0, 0]) == 1
    assert float(logits[0, 0, 1] - logits[0, 0, 0]) == pytest.approx(2.0**-8)


def test_top1_weight_is_the_chosen_probability_so_the_router_learns() -> None:
    """Switch routing: with one expert the combine weight is its softmax probability among
    all experts, not a softmax over one logit (always 1.0, no task gradient)."""
    cfg, params, x = _setup(top_k=1, dropless=True)
    params["router"] = params["router"] * 0.05  # probabilities away from 0 and 1
    mask = jnp.ones((G, S), bool)

    def task(router):
        out, _ = moe({**params, "router": router}, x, mask, cfg.replace(aux_loss_coef=0.0,
                     z_loss_coef=0.0), NO_SHARDING)  # fmt: skip
        return (out * x).sum()  # any loss of the output; no balance or z terms

    grad = jax.grad(task)(params["router"])
    assert float(jnp.abs(grad).max()) > 1e-3  # checked first: it alone catches a 1.0 weight
    experts, weights, probs, _ = route(x, params["router"], 1)
    np.testing.assert_allclose(weights, np.take_along_axis(probs, experts, -1), rtol=1e-6)
    assert float(weights.max()) < 1.0


def test_emulated_ragged_all_to_all_matches_jax_documentation() -> None:
    """The example of `jax.lax.ragged_all_to_all`'s docstring (axis of size 2), over a
    vmapped axis: the emulation's results are the documented ones."""
    operand = jnp.array([[1, 2, 2], [3, 4, 0]], jnp.float32)
    output = jnp.zeros((2, 4), jnp.float32)
    input_offsets = jnp.array([[0, 1], [0, 1]], jnp.int32)
    send_sizes = jnp.array([[1, 2], [1, 1]], jnp.int32)
    output_offsets = jnp.array([[0, 0], [1, 2]], jnp.int32)
    recv_sizes = jnp.array([[1, 1], [2, 1]], jnp.int32)
    exchange = jax.vmap(lambda *a: emulated_ragged_all_to_all(*a, axis_name="x"), axis_name="x")
    got = exchange(operand, output, input_offsets, send_sizes, output_offsets, recv_sizes)
    np.testing.assert_array_equal(got, [[1, 3, 0, 0], [2, 2, 4, 0]])


@pytest.mark.parametrize("sizes", [(37, 0, 80, 11), (128, 0, 0, 0), (0, 0, 0, 5)])
def test_tiled_grouped_matmul_equals_ragged_dot(sizes: tuple[int, ...]) -> None:
    x = jax.random.normal(jax.random.key(4), (160, 16))
    w = jax.random.normal(jax.random.key(5), (4, 16, 24))
    group_sizes = jnp.asarray(sizes, jnp.int32)
    want = jax.lax.ragged_dot(x, w, group_sizes)
    want = jnp.where((jnp.arange(160) < sum(sizes))[:, None], want, 0)
    np.testing.assert_allclose(tiled_grouped_matmul(x, w, group_sizes), want, rtol=1e-5, atol=1e-5)
    grads = jax.grad(lambda x, w: (tiled_grouped_matmul(x, w, group_sizes) ** 2).sum(), (0, 1))
    ref = jax.grad(
        lambda x, w: (jnp.where((jnp.arange(160) < sum(sizes))[:, None],
                                jax.lax.ragged_dot(x, w, group_sizes), 0) ** 2).sum(), (0, 1)
    )  # fmt: skip
    for a, b in zip(grads(x, w), ref(x, w), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
