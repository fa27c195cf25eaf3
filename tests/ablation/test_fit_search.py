"""Fits and search on losses with a known answer (no training: the losses are a formula).

Each source's loss falls as its own weight grows (a saturating curve that is not the
log-linear law's shape, so neither fit is handed its own form); the objective is one
source's loss, so the right answer is as much of that source as its epoch cap allows.
"""

from __future__ import annotations

import numpy as np
import pytest

from polymix.ablation.fits import fit
from polymix.ablation.sampling import MIN_SHARE, sample_mixture
from polymix.ablation.settings import AblationSettings
from polymix.ablation.sweep import analyse

SOURCES = ["a", "b", "c"]
PLANNED = {"a": 0.2, "b": 0.4, "c": 0.4}
CAPS = {"a": 0.7, "b": 1.0, "c": 1.0}


def true_loss(weights: dict[str, float]) -> dict[str, float]:
    return {s: 2.0 + 1.0 / (0.3 + 4.0 * weights[s]) for s in SOURCES}


def proxies(settings: AblationSettings, noise: float = 0.01, signal: bool = True) -> list[dict]:
    rng = np.random.default_rng(5)
    out = []
    for i in range(settings.proxies):
        mixture = sample_mixture(i, settings.seed, PLANNED, CAPS, settings.concentration)
        truth = true_loss(mixture) if signal else dict.fromkeys(SOURCES, 3.0)
        losses = {s: v + float(rng.normal(0, noise)) for s, v in truth.items()}
        out.append({"index": i, "mixture": mixture, "losses": losses})
    return out


@pytest.fixture(scope="module")
def one_source() -> tuple[AblationSettings, object]:
    settings = AblationSettings(proxies=40, objective={"a": 1.0}, seed=3, candidates=4000)
    return settings, analyse(proxies(settings), SOURCES, PLANNED, CAPS, settings, "0" * 64)


def test_the_chosen_mixture_favours_the_objectives_source_up_to_its_cap(one_source) -> None:
    _, result = one_source
    chosen = result.chosen.weights
    assert chosen["a"] > PLANNED["a"]
    assert chosen["a"] == pytest.approx(CAPS["a"], abs=0.03)
    assert chosen["a"] <= CAPS["a"] + 1e-9
    assert sum(chosen.values()) == pytest.approx(1.0)
    truth = true_loss(chosen)["a"]
    assert truth < true_loss(PLANNED)["a"]
    assert truth < true_loss(result.uniform.weights)["a"]


def test_predictions_come_with_a_spread_and_rank_the_baselines(one_source) -> None:
    _, result = one_source
    assert result.objective == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert result.chosen.predicted_loss < result.planned.predicted_loss
    assert result.chosen.predicted_loss < result.uniform.predicted_loss
    assert 0 < result.chosen.uncertainty < 0.2
    for kind in ("lightgbm", "loglinear"):
        assert result.fits[kind].objective.spearman > 0.9
        assert result.fits[kind].sources["a"].r2 > 0.8


def test_cross_validation_scores_held_out_proxies_not_the_fitted_ones() -> None:
    """On losses that ignore the mixture there is nothing to predict out of fold."""
    settings = AblationSettings(proxies=40, seed=3)
    data = proxies(settings, noise=0.05, signal=False)
    weights = np.array([[p["mixture"][s] for s in SOURCES] for p in data])
    losses = np.array([[p["losses"][s] for s in SOURCES] for p in data])
    for kind in ("lightgbm", "loglinear"):
        scored = fit(kind, weights, losses, SOURCES, np.full(3, 1 / 3), 5, 0)
        assert scored.metrics["objective"]["r2"] < 0.2
        assert abs(scored.metrics["objective"]["spearman"]) < 0.5


def test_the_same_proxies_give_the_same_bytes(one_source) -> None:
    settings, result = one_source
    again = analyse(proxies(settings), SOURCES, PLANNED, CAPS, settings, "0" * 64)
    assert again.to_json() == result.to_json()


def test_the_chosen_mixture_has_no_crumbs_the_trainer_would_mix_in(one_source) -> None:
    """A share of 1e-14 is 'none' to a reader but a 10^18:1 proportion to the mixer."""
    _, result = one_source
    assert all(w == 0 or w >= MIN_SHARE for w in result.chosen.weights.values())
    assert result.chosen.weights["c"] == 0


def test_a_source_without_a_held_out_loss_is_mixed_but_not_scored() -> None:
    """Images without captions have no text to score: their weight is still searched."""
    settings = AblationSettings(proxies=40, objective={"a": 1.0}, seed=3, candidates=4000)
    data = proxies(settings)
    for proxy in data:
        del proxy["losses"]["c"]
    result = analyse(data, SOURCES, PLANNED, CAPS, settings, "0" * 64)
    assert result.scored == ["a", "b"] and result.sources == SOURCES
    assert set(result.chosen.weights) == set(SOURCES)
    assert set(result.chosen.predicted_losses) == {"a", "b"}
    assert result.objective == {"a": 1.0, "b": 0.0}
    assert result.chosen.weights["a"] == pytest.approx(CAPS["a"], abs=0.03)
