"""The mixture the fitted model predicts best, within the epoch caps, with its uncertainty.

As RegMix does: score many Dirichlet candidates with the regression and keep the best,
here in rounds: a first pool half flat over the simplex and half around the plan, then
rounds sampling tightly around the current best. The answer is the mean of the top
`TOP_K` of the final pool (one best candidate of a tree model is often a lucky corner;
the mean of the top few is stabler), put back within the caps. Its uncertainty is the
standard deviation of the objective over the cross-validation fold models there.

Caps are applied to whole arrays at once (`cap_rows`), with the same rule as the
planner's `water_fill`: sources over their cap sit at it, the others share the rest in
proportion to their weights, repeated until none is over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from polymix.ablation.fits import Fit
from polymix.ablation.sampling import MIN_SHARE, as_vector, dirichlet_center, within_caps
from polymix.ablation.settings import AblationError

TOP_K = 16
ROUNDS = 3
REFINE_CONCENTRATION = 200.0


def cap_rows(weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Each row normalised and water-filled under `caps` (rows that cannot fill stay scaled)."""
    raw = weights / weights.sum(axis=1, keepdims=True)
    fixed = np.zeros_like(raw, dtype=bool)
    out = raw
    for _ in range(raw.shape[1]):
        free_mass = 1.0 - np.where(fixed, caps, 0.0).sum(axis=1, keepdims=True)
        free_raw = np.where(fixed, 0.0, raw)
        total = free_raw.sum(axis=1, keepdims=True)
        scaled = np.divide(free_raw * free_mass, total, out=np.zeros_like(raw), where=total > 0)
        out = np.where(fixed, caps, scaled)
        over = (out > caps * (1 + 1e-12)) & ~fixed
        if not over.any():
            break
        fixed |= over
    return out


def _score(fit: Fit, candidates: np.ndarray, objective: np.ndarray) -> np.ndarray:
    return fit.predict(candidates) @ objective


def _first_pool(rng, n: int, planned: np.ndarray, concentration: float) -> np.ndarray:
    k = len(planned)
    flat = rng.dirichlet(np.ones(k), size=n - n // 2)
    near = rng.dirichlet(concentration * k * planned, size=n // 2)
    return np.vstack([flat, near])


def _refine(rng, best: np.ndarray, n: int) -> np.ndarray:
    per = max(1, n // len(best))
    return np.vstack([rng.dirichlet(REFINE_CONCENTRATION * (b + 1e-3), size=per) for b in best])


def search(
    fit: Fit,
    objective: Mapping[str, float],
    planned: Mapping[str, float],
    caps: Mapping[str, float],
    *,
    candidates: int,
    concentration: float,
    seed: int,
) -> dict[str, Any]:
    """Chosen weights, their predicted objective and per-source losses, and the fold spread."""
    names = fit.mixed
    obj = as_vector(objective, fit.sources)
    cap = as_vector(caps, names)
    rng = np.random.default_rng([seed, 0x5EA2C4])
    center = dirichlet_center({n: planned[n] for n in names})
    pool = cap_rows(_first_pool(rng, candidates, center, concentration), cap)
    values = _score(fit, pool, obj)
    for _ in range(ROUNDS):
        best = pool[np.argsort(values, kind="stable")[:TOP_K]]
        fresh = cap_rows(_refine(rng, best, candidates // 4), cap)
        pool = np.vstack([pool, fresh])
        values = np.concatenate([values, _score(fit, fresh, obj)])
    top = pool[np.argsort(values, kind="stable")[:TOP_K]].mean(axis=0)
    return describe(fit, without_crumbs(dict(zip(names, top.tolist(), strict=True)), caps), obj)


def without_crumbs(weights: Mapping[str, float], caps: Mapping[str, float]) -> dict[str, float]:
    """Shares below `MIN_SHARE` dropped (the trainer mixes by integer proportions, so 1e-14
    would be a 10^18:1 ratio), unless the others then cannot fill the budget within caps."""
    trimmed = {n: (w if w >= MIN_SHARE else 0.0) for n, w in weights.items()}
    try:
        return within_caps(trimmed, caps)
    except AblationError:
        return within_caps(weights, caps)


def describe(fit: Fit, weights: Mapping[str, float], objective: np.ndarray) -> dict[str, Any]:
    """What the model says of one mixture: objective, per-source losses, fold spread."""
    scored = fit.sources
    point = as_vector(weights, fit.mixed)[None, :]
    losses = fit.predict(point)[0]
    per_fold = fit.predict_folds(point)[:, 0, :]
    return {
        "weights": {n: float(weights.get(n, 0.0)) for n in fit.mixed},
        "predicted_loss": float(losses @ objective),
        "predicted_losses": {n: float(v) for n, v in zip(scored, losses, strict=True)},
        "uncertainty": float(np.std(per_fold @ objective)),
        "uncertainty_losses": {
            n: float(v) for n, v in zip(scored, per_fold.std(axis=0), strict=True)
        },
    }
