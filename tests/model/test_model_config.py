"""Presets, overrides and the shape-only parameter and FLOP counts."""

from __future__ import annotations

import jax
import pytest

from polymix.model.config import PRESETS, get_config
from polymix.model.counting import flops_per_token, param_counts
from polymix.model.transformer import abstract_params


def test_gemini_pro_90b_size_without_allocating() -> None:
    before = len(jax.live_arrays())
    counts = param_counts(get_config("gemini-pro-90b"))
    assert len(jax.live_arrays()) == before  # eval_shape only: nothing materialized
    assert abs(counts["total"] - 90e9) / 90e9 < 0.05
    cfg = get_config("gemini-pro-90b")
    assert cfg.vocab_size == 256_000 and cfg.n_experts > cfg.top_k
    # Top-2 routing: a token touches a fraction of the model.
    assert counts["active"] < counts["total"] / 3


def _by_hand(cfg) -> tuple[int, int]:
    """(total, active) from the dimensions, written out independently of the model code."""
    d, v, h, kv, hd = cfg.d_model, cfg.vocab_size, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    media = cfg.patch_dim * d + d + 2 * cfg.max_patch_grid * d + cfg.frame_dim * d + d
    media += cfg.max_audio_positions * d
    embed = v * d + 4 * d + media  # token table, 4 modality vectors, media embedders
    attention = d * h * hd + 2 * d * kv * hd + h * hd * d
    experts = 3 * cfg.n_experts * d * cfg.d_expert
    moe_layer = attention + 2 * d + d * cfg.n_experts + experts
    dense_layer = attention + 2 * d + 3 * d * cfg.d_ff
    n_dense = cfg.n_layers // cfg.dense_every if cfg.dense_every else 0
    n_moe = cfg.n_layers - n_dense if cfg.n_experts else 0
    n_dense = cfg.n_layers - n_moe
    total = embed + n_moe * moe_layer + n_dense * dense_layer + d + d * v
    unused = n_moe * experts * (cfg.n_experts - cfg.top_k) // max(cfg.n_experts, 1)
    return total, total - unused - media


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_counts_equal_a_count_by_hand(name: str) -> None:
    cfg = get_config(name)
    counts = param_counts(cfg)
    assert (counts["total"], counts["active"]) == _by_hand(cfg)
    flops = flops_per_token(cfg)
    assert flops["train"] == 3 * flops["forward"]
    assert flops["forward"] > 2 * (counts["active"] - counts["token_embedding"])


def test_tiny_by_hand() -> None:
    """tiny, written out: 121,792 parameters (the sum in tests/trainer/test_plan.py)."""
    assert param_counts(get_config("tiny"))["total"] == 121_792


def test_all_expert_active_when_top_k_equals_experts() -> None:
    cfg = get_config("tiny").replace(top_k=4)
    counts = param_counts(cfg)
    assert counts["active"] == counts["total"] - counts["media_embedders"]


def test_dense_every_makes_every_nth_layer_dense() -> None:
    cfg = get_config("tiny").replace(n_layers=6, dense_every=3)
    assert cfg.layer_kinds == ("moe", "moe", "dense") and cfg.n_units == 2
    tree = abstract_params(cfg)
    assert "moe" in tree["units"][0] and "dense" in tree["units"][2]
    assert tree["units"][2]["dense"]["w_up"].shape[0] == 2  # stacked over units
    with pytest.raises(ValueError):
        cfg.replace(n_layers=4)


def test_overrides_parse_into_field_types() -> None:
    cfg = get_config("tiny", ["n_layers=4", "dropless=true", "aux_loss_coef=0.02"])
    assert (cfg.n_layers, cfg.dropless, cfg.aux_loss_coef) == (4, True, 0.02)
    assert get_config("tiny", {"vocab_size": 512}).vocab_size == 512
    with pytest.raises(KeyError):
        get_config("tiny", ["no_such_field=1"])
    with pytest.raises(KeyError):
        get_config("no-such-model")
    with pytest.raises(ValueError):
        get_config("tiny", ["n_kv_heads=3"])


def test_a_config_is_a_value_jit_can_take_as_static_argument() -> None:
    a, b = get_config("tiny"), get_config("tiny", ["n_layers=2"])
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != a.replace(n_layers=4)
    twice = jax.jit(lambda x, cfg: x * cfg.n_layers, static_argnums=1)
    assert int(twice(1, a)) == int(twice(1, b)) == 2


def test_bad_keys_and_values_are_named() -> None:
    with pytest.raises(KeyError, match="unknown model field 'n_layerz'; did you mean 'n_layers'"):
        get_config("tiny", ["n_layerz=2"])
    with pytest.raises(ValueError, match="attention='flash'"):
        get_config("tiny").replace(attention="flash")
    with pytest.raises(ValueError, match="d_model='wide'"):
        get_config("tiny").replace(d_model="wide")
