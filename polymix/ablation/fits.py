"""From mixture weights to held-out loss: one regression per source, two kinds, cross-validated.

- `lightgbm`: gradient-boosted trees on the weights, as RegMix fits them. Makes no
  assumption about the shape, needs many proxies, cannot extrapolate.
- `loglinear`: the Data Mixing Law `loss = c + k * exp(t . w)` (Ye et al. 2024), fitted by
  least squares (scipy) from a linear fit of `log(loss - c0)`. Few parameters (sources + 2),
  so it is usable with a few dozen proxies, and smooth, so the search has a slope to follow.

Each kind is scored by k-fold cross-validation over proxies: out-of-fold predictions of
every source's loss give R^2 and Spearman's rank correlation, the latter being what the
search relies on (it needs the order of mixtures right, not the numbers). The fold
models are kept: their spread at a point is the uncertainty the search reports.
Everything is seeded and single-threaded, so the same proxies give the same fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import optimize, stats

KINDS = ("lightgbm", "loglinear")


class Model(Protocol):
    def predict(self, weights: np.ndarray) -> np.ndarray: ...


class LogLinear:
    """`loss = c + k * exp(t . w)` with c in [0, min loss), k > 0."""

    def __init__(self, weights: np.ndarray, losses: np.ndarray) -> None:
        low = float(losses.min())
        c0 = 0.5 * low
        design = np.hstack([np.ones((len(weights), 1)), weights])
        start, *_ = np.linalg.lstsq(design, np.log(losses - c0), rcond=None)
        x0 = np.concatenate([[c0], start])

        def residual(x: np.ndarray) -> np.ndarray:
            return x[0] + np.exp(x[1] + weights @ x[2:]) - losses

        lower = np.full(len(x0), -np.inf)
        upper = np.full(len(x0), np.inf)
        lower[0], upper[0] = 0.0, max(low * (1 - 1e-6), 1e-12)
        x0[0] = min(max(x0[0], lower[0]), upper[0])
        self.params = optimize.least_squares(residual, x0, bounds=(lower, upper), max_nfev=200).x

    def predict(self, weights: np.ndarray) -> np.ndarray:
        x = self.params
        return x[0] + np.exp(np.clip(x[1] + np.atleast_2d(weights) @ x[2:], -50, 50))


class Boosted:
    """LightGBM with settings for a few dozen rows (RegMix fits ~500 proxies)."""

    def __init__(self, weights: np.ndarray, losses: np.ndarray, seed: int) -> None:
        import lightgbm

        self.model = lightgbm.LGBMRegressor(
            n_estimators=100,
            learning_rate=0.1,
            num_leaves=8,
            min_child_samples=max(2, len(weights) // 16),
            subsample=1.0,
            colsample_bytree=1.0,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        self.model.fit(weights, losses)

    def predict(self, weights: np.ndarray) -> np.ndarray:
        return self.model.predict(np.atleast_2d(weights))


def fit_one(kind: str, weights: np.ndarray, losses: np.ndarray, seed: int) -> Model:
    if kind == "loglinear":
        return LogLinear(weights, losses)
    return Boosted(weights, losses, seed)


@dataclass
class Fit:
    """One kind's models for every source: fitted on all proxies and per CV fold."""

    kind: str
    sources: list[str]  # the losses it predicts (sources whose held-out set is scored)
    full: list[Model]
    folds: list[list[Model]]  # folds[f][s]
    out_of_fold: np.ndarray  # (proxies, sources)
    metrics: dict[str, Any] = field(default_factory=dict)
    mixed: list[str] = field(default_factory=list)  # the weights it reads; default: sources

    def __post_init__(self) -> None:
        self.mixed = self.mixed or list(self.sources)

    def predict(self, weights: np.ndarray) -> np.ndarray:
        """(n, sources) predicted losses of the all-proxy models."""
        return np.stack([m.predict(weights) for m in self.full], axis=-1)

    def predict_folds(self, weights: np.ndarray) -> np.ndarray:
        """(folds, n, sources): every fold model's prediction, for the spread."""
        return np.stack(
            [np.stack([m.predict(weights) for m in fold], axis=-1) for fold in self.folds]
        )


def fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold number of each proxy: a seeded permutation cut into `folds` near-equal parts."""
    order = np.random.default_rng([seed, 0xF01D]).permutation(n)
    out = np.empty(n, dtype=np.int64)
    for number, members in enumerate(np.array_split(order, folds)):
        out[members] = number
    return out


def scores(measured: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    residual = float(np.sum((measured - predicted) ** 2))
    spread = float(np.sum((measured - measured.mean()) ** 2))
    r2 = 1.0 - residual / spread if spread > 0 else 0.0
    rho = stats.spearmanr(measured, predicted).statistic if spread > 0 else 0.0
    return {"r2": float(r2), "spearman": float(0.0 if np.isnan(rho) else rho)}


def fit(
    kind: str,
    weights: np.ndarray,
    losses: np.ndarray,
    sources: list[str],
    objective: np.ndarray,
    folds: int,
    seed: int,
    mixed: list[str] | None = None,
) -> Fit:
    """Models of one kind for every source, with k-fold CV metrics per source and of the objective."""
    assign = fold_of(len(weights), folds, seed)
    out_of_fold = np.zeros_like(losses)
    fold_models = []
    for number in range(folds):
        train, held = assign != number, assign == number
        models = [
            fit_one(kind, weights[train], losses[train, s], seed) for s in range(len(sources))
        ]
        fold_models.append(models)
        for s, model in enumerate(models):
            out_of_fold[held, s] = model.predict(weights[held])
    full = [fit_one(kind, weights, losses[:, s], seed) for s in range(len(sources))]
    metrics = {
        "sources": {
            name: scores(losses[:, s], out_of_fold[:, s]) for s, name in enumerate(sources)
        },
        "objective": scores(losses @ objective, out_of_fold @ objective),
    }
    return Fit(kind, sources, full, fold_models, out_of_fold, metrics, mixed or list(sources))


def better(fits: list[Fit]) -> Fit:
    """The fit whose out-of-fold objective ranks mixtures best; R^2 breaks a tie."""
    return max(
        fits,
        key=lambda f: (round(f.metrics["objective"]["spearman"], 6), f.metrics["objective"]["r2"]),
    )
