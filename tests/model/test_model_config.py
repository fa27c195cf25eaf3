"""Presets, overrides and the shape-only parameter and FLOP counts."""

from __future__ import annotations

import math

import jax
import pytest

from polymix.model.config import PRESETS, get_config
from polymix.model.counting import flops_per_token, param_counts
from polymix.model.params import is_info
from polymix.model.transformer import abstract_params, param_info


def test_gemini_pro_90b_size_without_allocating() -> None:
    before = len(jax.live_arrays())
    counts = param_counts(get_config("gemini-pro-90b"))
    assert len(jax.live_arrays()) == before  # eval_shape only: nothing materialized
    assert abs(counts["total"] - 90e9) / 90e9 < 0.05
    cfg = get_config("gemini-pro-90b")
    assert cfg.vocab_size == 256_000 and cfg.n_experts > cfg.top_k
    # Top-2 routing: a token touches a fraction of the model.
    assert counts["active"] < counts["total"] / 3


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_counts_agree_with_the_parameter_tree(name: str) -> None:
    cfg = get_config(name)
    counts = param_counts(cfg)
    by_info = sum(math.prod(p.shape) for p in jax.tree.leaves(param_info(cfg), is_leaf=is_info))
    assert counts["total"] == by_info
    assert 0 < counts["active"] <= counts["total"]
    flops = flops_per_token(cfg)
    assert flops["train"] == 3 * flops["forward"]
    assert flops["forward"] > 2 * (counts["active"] - counts["token_embedding"])


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
