"""Routing state: the balancing bias and the router input's centre, and how steps move them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from polymix.model.balance import bias_step, center_step, update_routing_state
from polymix.model.config import get_config
from polymix.model.moe import moe, moe_info, route
from polymix.model.params import init_from_info
from polymix.model.sample import random_batch
from polymix.model.sharding import NO_SHARDING
from polymix.model.transformer import init_params, loss_fn


def test_bias_moves_against_the_load_by_a_fixed_step() -> None:
    load = jnp.array([[0.5, 0.25, 0.25, 0.0]])
    bias = bias_step(jnp.zeros((1, 4)), load, 0.1)
    # Over-loaded down, under-loaded up, one at the mean unmoved; then centred.
    np.testing.assert_allclose(bias, [[-0.1, 0.0, 0.0, 0.1]], atol=1e-7)
    again = bias_step(bias, jnp.array([[0.9, 0.05, 0.05, 0.0]]), 0.1)
    np.testing.assert_allclose(again - bias, [[-0.15, 0.05, 0.05, 0.05]], atol=1e-6)


def test_centre_moves_a_share_of_the_way_to_the_batch_mean() -> None:
    np.testing.assert_allclose(center_step(jnp.ones(3), jnp.full(3, 3.0), 0.25), [1.5] * 3)


def test_bias_changes_the_choice_but_not_the_weights() -> None:
    x = jax.random.normal(jax.random.key(0), (16, 8))
    router = jax.random.normal(jax.random.key(1), (8, 4))
    bias = jnp.array([0.0, 0.0, 0.0, 100.0])
    experts, weights, probs, _ = route(x, router, 2)
    biased, biased_weights, biased_probs, _ = route(x, router, 2, bias=bias)
    assert bool((biased == 3).any(-1).all()) and not bool((experts == 3).any(-1).all())
    np.testing.assert_array_equal(probs, biased_probs)
    logits = x @ router
    chosen = jnp.take_along_axis(logits, biased, axis=-1)
    np.testing.assert_allclose(biased_weights, jax.nn.softmax(chosen, -1), rtol=1e-6)
    assert weights.shape == biased_weights.shape


def test_no_gradient_reaches_the_routing_state() -> None:
    cfg = get_config("tiny")
    params = init_from_info(moe_info(cfg), jax.random.key(0))
    params["router_bias"] = jnp.array([0.3, -0.1, 0.0, -0.2])
    params["router_center"] = jnp.full((cfg.d_model,), 0.1)
    x = jax.random.normal(jax.random.key(2), (2, 16, cfg.d_model))
    mask = jnp.ones((2, 16), bool)

    def total(p):
        out, stats = moe(p, x, mask, cfg, NO_SHARDING)
        return out.sum() + stats["aux_loss"] + stats["z_loss"]

    grads = jax.grad(total)(params)
    assert float(jnp.abs(grads["router_bias"]).max()) == 0.0
    assert float(jnp.abs(grads["router_center"]).max()) == 0.0
    assert float(jnp.abs(grads["router"]).max()) > 0.0


def test_a_step_moves_each_layers_state_from_its_own_routing() -> None:
    """tiny: units of (moe, dense), two units; each MoE layer's bias follows its own row
    of `expert_load`, its centre its own mean input; dense layers are untouched."""
    cfg = get_config("tiny").replace(router_bias_rate=0.5, router_center_rate=1.0)
    params = init_params(cfg, jax.random.key(0))
    batch = random_batch(cfg, batch=2, seq_len=16, seed=0, media=False)
    _, metrics = loss_fn(params, batch, cfg)
    moved = update_routing_state(params, params, metrics, cfg)
    state = moved["units"][0]["moe"]
    load = np.asarray(metrics["expert_load"])
    assert load.shape == (cfg.n_units, cfg.n_experts)
    for layer in range(cfg.n_units):
        want = np.sign(load[layer].mean() - load[layer]) * 0.5
        np.testing.assert_allclose(state["router_bias"][layer], want - want.mean(), atol=1e-6)
        np.testing.assert_allclose(
            state["router_center"][layer], metrics["router_input_mean"][layer], rtol=1e-6
        )
    assert moved["units"][1] is params["units"][1]


def test_state_is_moved_from_the_old_state_not_the_optimizers_output() -> None:
    cfg = get_config("tiny").replace(router_bias_rate=0.5, router_center_rate=0.0)
    params = init_params(cfg, jax.random.key(0))
    batch = random_batch(cfg, batch=2, seq_len=16, seed=0, media=False)
    _, metrics = loss_fn(params, batch, cfg)
    decayed = jax.tree.map(lambda p: p * 0.5 + 1.0, params)
    moved = update_routing_state(decayed, params, metrics, cfg)
    want = update_routing_state(params, params, metrics, cfg)
    np.testing.assert_array_equal(
        moved["units"][0]["moe"]["router_bias"], want["units"][0]["moe"]["router_bias"]
    )
    # The centre's rate is 0: it keeps what it was given.
    np.testing.assert_array_equal(
        moved["units"][0]["moe"]["router_center"], decayed["units"][0]["moe"]["router_center"]
    )
