"""The reference optimizer: schedule values, clipping, decay mask, decoupled vs coupled decay."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from polymix.model.config import get_config
from polymix.model.transformer import param_info
from polymix.trainer.config import TrainConfig
from polymix.trainer.optimizer import decay_mask, make_optimizer, schedule


def formula(step: int, peak: float, warmup: int, total: int, floor: float) -> float:
    """The reference schedule written out: linear warm-up from 0, then half a cosine."""
    if step < warmup:
        return peak * step / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize("step", [0, 1, 1000, 1999, 2000, 2001, 6000, 9999, 10000, 12000])
def test_schedule_matches_formula(step: int) -> None:
    cfg = TrainConfig(steps=10_000)  # defaults: peak 2e-4, warm-up 2000, floor 10%
    expected = formula(step, 2e-4, 2000, 10_000, 2e-5)
    assert float(schedule(cfg)(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12)


def test_schedule_landmarks() -> None:
    lr = schedule(TrainConfig(steps=10_000))
    assert float(lr(0)) == 0.0
    assert float(lr(1000)) == pytest.approx(1e-4, rel=1e-6)
    assert float(lr(2000)) == pytest.approx(2e-4, rel=1e-6)
    assert float(lr(10_000)) == pytest.approx(2e-5, rel=1e-6)


def _params() -> dict[str, jax.Array]:
    return {"w": jnp.ones((3, 4)), "b": jnp.ones((4,))}


@pytest.mark.parametrize(("scale", "expected_norm"), [(1e9, 1.0), (0.25, 0.25)])
def test_clipping_at_global_norm_one(scale: float, expected_norm: float) -> None:
    """Adam's first step is scale-free, so look at the first moment: (1 - b1) * clipped g."""
    cfg = TrainConfig(steps=100, warmup_steps=10)
    params = _params()
    mask = jax.tree.map(lambda _: True, params)
    opt = make_optimizer(cfg, mask)
    rng = np.random.default_rng(0)
    grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), jnp.float32), params)
    grads = jax.tree.map(lambda g: g * scale / optax.global_norm(grads), grads)
    _, state = opt.update(grads, opt.init(params), params)
    adam = state[1]
    assert float(optax.global_norm(adam.mu)) == pytest.approx(0.1 * expected_norm, rel=1e-5)
    # A 1e9 gradient must not become a 1e9 step either.
    updates, _ = opt.update(grads, state, params)
    assert np.isfinite(float(optax.global_norm(updates)))


def test_decay_mask_spares_norms_biases_embeddings() -> None:
    info = param_info(get_config("tiny"))
    mask = decay_mask(info, TrainConfig())
    assert mask["head"] is True
    assert mask["embed"]["patch_proj"] is True
    assert mask["final_norm"] is False
    assert mask["embed"]["tokens"] is False
    assert mask["embed"]["patch_bias"] is False
    assert mask["embed"]["frame_pos"] is False
    moe_unit, dense_unit = mask["units"]
    assert moe_unit["attn"]["wq"] is True and moe_unit["moe"]["w_up"] is True
    assert moe_unit["attn_norm"] is False and dense_unit["ffn_norm"] is False
    everything = decay_mask(info, TrainConfig(decay_embeddings=True, decay_norms_and_biases=True))
    assert all(jax.tree.leaves(everything))


def _run(opt: optax.GradientTransformation, params, grads_seq):
    state = opt.init(params)
    for grads in grads_seq:
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_coupled_mode_is_optax_adamw() -> None:
    cfg = TrainConfig(
        steps=20, warmup_steps=5, weight_decay=0.1, weight_decay_mode="coupled", clip_norm=1e9
    )
    params = _params()
    mask = {"w": True, "b": False}
    rng = np.random.default_rng(1)
    grads_seq = [
        jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), jnp.float32), params)
        for _ in range(6)
    ]
    ours = _run(make_optimizer(cfg, mask), params, grads_seq)
    reference = optax.adamw(schedule(cfg), b1=0.9, b2=0.95, eps=1e-8, weight_decay=0.1, mask=mask)
    theirs = _run(reference, params, grads_seq)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_decoupled_decay_follows_schedule_shape_not_peak() -> None:
    """Zero gradient: only decay moves p. Step 0 has lr 0; step 1 has lr = peak/2."""
    zeros = jax.tree.map(jnp.zeros_like, _params())
    for peak in (2e-4, 3e-3):
        cfg = TrainConfig(steps=100, warmup_steps=2, peak_lr=peak, weight_decay=0.01)
        opt = make_optimizer(cfg, {"w": True, "b": False})
        after = _run(opt, _params(), [zeros, zeros])
        # (1 - 0.01 * 0/peak) * (1 - 0.01 * (peak/2)/peak): independent of the peak.
        np.testing.assert_allclose(after["w"], 1 - 0.005, rtol=1e-6)
        np.testing.assert_allclose(after["b"], 1.0)


def test_decoupled_equals_coupled_when_rescaled_by_peak() -> None:
    peak, wd = 2e-4, 0.1
    params = _params()
    rng = np.random.default_rng(2)
    grads_seq = [
        jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), jnp.float32), params)
        for _ in range(5)
    ]
    mask = {"w": True, "b": True}
    coupled = TrainConfig(steps=10, warmup_steps=3, weight_decay=wd, weight_decay_mode="coupled")
    decoupled = TrainConfig(steps=10, warmup_steps=3, weight_decay=wd * peak)
    a = _run(make_optimizer(coupled, mask), params, grads_seq)
    b = _run(make_optimizer(decoupled, mask), params, grads_seq)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6)


def test_an_older_checkpoints_config_still_reads() -> None:
    """A config recorded before some keys existed, with one since removed, as JSON."""
    old = {"model": "tiny", "model_overrides": ["n_layers=2"], "steps": 7, "removed_key": 1}
    cfg = TrainConfig.from_dict(old)
    assert cfg.steps == 7 and cfg.model_overrides == ("n_layers=2",)
    assert cfg.eval_batches == TrainConfig().eval_batches  # a later key: its default
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
