"""Sampled mixtures: reproducible per (seed, index), on the simplex, within the planner's caps."""

from __future__ import annotations

import numpy as np
import pytest

from polymix.ablation.sampling import sample_mixture, share_caps, within_caps
from polymix.ablation.search import cap_rows
from polymix.ablation.settings import AblationError
from polymix.core.config.mixture import MixtureConfig
from polymix.core.mixture import Supply, plan_mixture

PLANNED = {"books": 0.1, "code": 0.3, "web": 0.6}


def test_a_proxy_is_a_function_of_its_index_and_the_seed_alone() -> None:
    caps = dict.fromkeys(PLANNED, 1.0)
    forward = [sample_mixture(i, 7, PLANNED, caps, 4.0) for i in range(20)]
    alone = sample_mixture(13, 7, PLANNED, caps, 4.0)
    assert alone == forward[13]
    assert forward[0] != forward[1]
    assert sample_mixture(13, 8, PLANNED, caps, 4.0) != alone


def test_every_mixture_is_on_the_simplex_and_within_the_caps() -> None:
    caps = {"books": 0.12, "code": 1.0, "web": 1.0}
    for i in range(300):
        weights = sample_mixture(i, 0, PLANNED, caps, 0.5)  # wide: many draws break the cap
        assert sum(weights.values()) == pytest.approx(1.0)
        assert all(w >= 0 for w in weights.values())
        assert weights["books"] <= caps["books"] + 1e-12


def test_caps_are_the_planners_epoch_caps_at_the_runs_budget() -> None:
    supply = {
        "books": Supply("text", 0.5, {"text": 1_000}),
        "web": Supply("text", 0.5, {"text": 100_000}),
    }
    plan = plan_mixture(supply, MixtureConfig(budget_tokens=20_000, max_epochs=2)).to_json()
    caps = share_caps(plan)
    assert caps == {"books": pytest.approx(2 * 1_000 / 20_000), "web": 1.0}
    # The planner itself caps books at the same share.
    assert plan["sources"]["books"]["planned_weight"] == pytest.approx(caps["books"])


def test_clipping_hands_the_excess_to_the_others_in_proportion() -> None:
    clipped = within_caps({"a": 0.8, "b": 0.15, "c": 0.05}, {"a": 0.5, "b": 1.0, "c": 1.0})
    assert clipped["a"] == pytest.approx(0.5)
    assert clipped["b"] / clipped["c"] == pytest.approx(3.0)


def test_the_vectorised_caps_agree_with_the_planners_water_filling() -> None:
    rng = np.random.default_rng(1)
    caps = {"a": 0.2, "b": 0.35, "c": 1.0, "d": 0.3}
    rows = rng.dirichlet(np.full(4, 0.4), size=200)
    fast = cap_rows(rows, np.array(list(caps.values())))
    for row, got in zip(rows, fast, strict=True):
        want = within_caps(dict(zip(caps, row.tolist(), strict=True)), caps)
        assert got == pytest.approx(list(want.values()), abs=1e-12)


def test_caps_that_cannot_fill_the_budget_are_refused() -> None:
    with pytest.raises(AblationError, match="cannot fill"):
        within_caps({"a": 1.0, "b": 0.0}, {"a": 0.5, "b": 1.0})
