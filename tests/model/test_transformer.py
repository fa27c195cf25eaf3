"""The whole decoder on packed multimodal batches: loss mask, documents, media, paths."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from polymix.model.batch import IMAGE, TEXT
from polymix.model.config import get_config
from polymix.model.sample import random_batch
from polymix.model.transformer import forward, init_params, loss_fn

CFG = get_config("tiny")


@functools.cache
def _params(cfg=CFG):
    return init_params(cfg, jax.random.key(0))


def _batch(**kw):
    return random_batch(CFG, batch=4, seq_len=32, seed=3, **kw)


@functools.cache
def _jitted(cfg=CFG, what: str = "loss"):
    if what == "forward":
        return jax.jit(lambda p, b: forward(p, b, cfg, train=False)[0])
    return jax.jit(jax.value_and_grad(lambda p, b: loss_fn(p, b, cfg), has_aux=True))


def test_loss_and_gradients_are_finite_and_reach_every_embedder() -> None:
    batch = _batch()
    assert (batch["modality"] == IMAGE).any() and (batch["modality"] == 3).any()
    (loss, metrics), grads = _jitted()(_params(), batch)
    assert np.isfinite(float(loss))
    # Near-uniform logits at init: cross-entropy close to log(vocab).
    assert abs(float(metrics["ce_loss"]) - np.log(CFG.vocab_size)) < 1.0
    assert float(metrics["loss"]) == pytest.approx(
        float(metrics["ce_loss"] + metrics["aux_loss"] + metrics["z_loss"]), rel=1e-6
    )
    n_moe = CFG.layer_kinds.count("moe") * CFG.n_units
    assert metrics["expert_load"].shape == (n_moe, CFG.n_experts)
    np.testing.assert_allclose(metrics["expert_load"].sum(-1), 1.0, rtol=1e-5)
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
        assert np.isfinite(np.asarray(g)).all(), jax.tree_util.keystr(path)
    for name in ("patch_proj", "frame_proj", "tokens", "patch_row", "frame_pos"):
        assert np.abs(np.asarray(grads["embed"][name])).max() > 0, name


def test_loss_reads_only_masked_targets() -> None:
    batch = _batch()
    (loss, _), _ = _jitted()(_params(), batch)
    other = {k: v.copy() for k, v in batch.items()}
    unmasked = ~other["loss_mask"]
    other["targets"][unmasked] = (other["targets"][unmasked] + 7) % CFG.vocab_size
    (loss2, _), _ = _jitted()(_params(), other)
    assert float(loss2) == float(loss)


def test_packed_documents_are_independent() -> None:
    cfg = CFG.replace(dropless=True)  # capacity would couple documents through drops
    batch = _batch(media=False)
    seg = batch["segment_ids"][0]
    assert seg.max() >= 2
    first = seg == 1
    logits = _jitted(cfg, "forward")(_params(), batch)
    other = {k: v.copy() for k, v in batch.items()}
    other["tokens"][0, first] = (other["tokens"][0, first] + 5) % cfg.vocab_size
    logits2 = _jitted(cfg, "forward")(_params(), other)
    later = seg >= 2
    np.testing.assert_allclose(logits2[0, later], logits[0, later], rtol=1e-5, atol=1e-5)
    assert not np.allclose(logits2[0, first], logits[0, first])
    np.testing.assert_allclose(logits2[1:], logits[1:], rtol=1e-5, atol=1e-5)


def test_image_patch_changes_only_its_own_and_later_positions() -> None:
    cfg = CFG.replace(dropless=True)
    batch = _batch()
    rows, cols = np.nonzero(batch["modality"] == IMAGE)
    b, pos = rows[0], cols[0]
    batch_before = {k: v.copy() for k, v in batch.items()}
    batch["patches"][b, batch["patch_index"][b, pos]] ^= 0xFF
    before = _jitted(cfg, "forward")(_params(), batch_before)
    after = _jitted(cfg, "forward")(_params(), batch)
    np.testing.assert_allclose(after[b, :pos], before[b, :pos], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[b, pos], before[b, pos])


def test_text_only_batch_with_minimal_media_arrays() -> None:
    batch = random_batch(CFG, batch=4, seq_len=32, seed=3, media=False)
    assert batch["patches"].shape[1] == 1 and (batch["modality"] <= TEXT).all()
    (loss, _), _ = _jitted()(_params(), batch)
    assert np.isfinite(float(loss))


def test_blockwise_model_equals_xla_model() -> None:
    batch = _batch()
    xla = _jitted(CFG, "forward")(_params(), batch)
    block = _jitted(CFG.replace(attention="blockwise"), "forward")(_params(), batch)
    np.testing.assert_allclose(block, xla, rtol=1e-4, atol=1e-4)


def test_chunked_cross_entropy_equals_whole_logits_and_never_builds_them() -> None:
    """8 positions of 32 per chunk: the same loss and gradients as taking all logits at
    once, and the compiled step holds no [B, L, V] array (forward or backward)."""
    cfg = CFG.replace(vocab_size=1024)
    params = init_params(cfg, jax.random.key(0))
    batch = random_batch(cfg, batch=4, seq_len=32, seed=3)
    whole = jax.jit(jax.value_and_grad(lambda p, b: loss_fn(p, b, cfg.replace(logits_chunk=0))[0]))
    chunked = jax.jit(jax.value_and_grad(lambda p, b: loss_fn(p, b, cfg)[0]))
    (l0, g0), (l1, g1) = whole(params, batch), chunked(params, batch)
    assert float(l1) == pytest.approx(float(l0), rel=1e-6)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g0), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    full = "[4,32,1024]"
    assert full in whole.lower(params, batch).compile().as_text()
    assert full not in chunked.lower(params, batch).compile().as_text()


def test_media_shape_mismatch_names_the_field() -> None:
    batch = random_batch(CFG.replace(n_mels=4), batch=2, seq_len=16)
    with pytest.raises(ValueError, match="n_mels"):
        forward(_params(), batch, CFG)


def test_bfloat16_activations_keep_a_float32_router_and_loss() -> None:
    cfg = CFG.replace(dtype="bfloat16")
    logits, stats = jax.jit(lambda p, b: forward(p, b, cfg))(_params(), _batch())
    assert logits.dtype == jax.numpy.bfloat16
    assert stats["aux_loss"].dtype == jax.numpy.float32
    assert np.isfinite(np.asarray(logits, np.float32)).all()


def _step_temp_bytes(cfg, params, batch) -> int:
    step = jax.jit(jax.grad(lambda p, b: loss_fn(p, b, cfg)[0]))
    return step.lower(params, batch).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.slow  # two compilations of the demo model: ~50 s
def test_remat_changes_memory_not_gradients() -> None:
    """Recomputing each unit in the backward pass keeps only its input: XLA's scratch
    memory for the step falls by more than a third, the gradients stay the same."""
    cfg = CFG.replace(n_layers=4, dropless=True)
    params = init_params(cfg, jax.random.key(0))
    batch = random_batch(cfg, batch=8, seq_len=32, seed=3)
    plain = jax.jit(jax.grad(lambda p, b: loss_fn(p, b, cfg)[0]))(params, batch)
    remat = jax.jit(jax.grad(lambda p, b: loss_fn(p, b, cfg.replace(remat=True))[0]))(params, batch)
    for a, b in zip(jax.tree.leaves(remat), jax.tree.leaves(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    saved = _step_temp_bytes(cfg.replace(remat=True), params, batch)
    assert saved < 0.66 * _step_temp_bytes(cfg, params, batch)
