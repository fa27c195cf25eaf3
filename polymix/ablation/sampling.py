"""Where the proxies' mixtures come from, and the epoch caps every mixture must respect.

Caps are the planner's: at the full run's budget B, source s may give at most
`max_epochs_s * available_s` positions, so its share is at most that over B. A sampled
mixture that breaks a cap is clipped and renormalised by the planner's own water-filling
(`polymix.core.mixture.water_fill`): capped sources sit at their cap and the rest share
what is left in proportion to their draw. That keeps every proxy a pure function of
(seed, index) with no rejection loop whose length depends on the draw.

The Dirichlet is centred on the planned weights smoothed a tenth towards uniform, so a
source the plan gives ~0 is still explored; shares below `MIN_SHARE` are dropped (the
trainer then draws nothing from that source) so no proxy spends steps on a crumb.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from polymix.ablation.settings import AblationError
from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import Manifest
from polymix.core.mixture import MixtureError, plan_mixture, supply_from_totals, water_fill

MIN_SHARE = 1e-3
UNIFORM_BLEND = 0.1


def manifest_plan(manifest: Manifest) -> dict:
    """The manifest's stored plan, else the planner's default plan of its totals."""
    if manifest.plan is not None:
        return dict(manifest.plan)
    try:
        return plan_mixture(supply_from_totals(manifest.sources), MixtureConfig()).to_json()
    except MixtureError as exc:
        raise AblationError(f"manifest has no plan and none can be made: {exc}") from None


def planned_weights(plan: Mapping) -> dict[str, float]:
    return {name: float(p["planned_weight"]) for name, p in sorted(plan["sources"].items())}


def share_caps(plan: Mapping) -> dict[str, float]:
    """Largest share of the run's budget each source can give within its epoch cap."""
    budget = float(plan["budget"])
    return {
        name: min(1.0, float(p["max_epochs"]) * float(p["available"]) / budget)
        for name, p in sorted(plan["sources"].items())
    }


def within_caps(weights: Mapping[str, float], caps: Mapping[str, float]) -> dict[str, float]:
    """`weights` renormalised, then clipped to `caps` with the rest water-filled."""
    total = sum(weights[k] for k in sorted(weights))
    if total <= 0:
        raise AblationError("a mixture with no positive weight")
    if sum(caps[k] for k in sorted(caps) if weights.get(k, 0) > 0) < 1 - 1e-9:
        raise AblationError(
            f"the sources {sorted(k for k in weights if weights[k] > 0)} cannot fill the "
            "budget within their epoch caps"
        )
    shares = {k: weights[k] / total for k in sorted(weights)}
    alloc, _ = water_fill(1.0, shares, caps)
    return {k: alloc[k] for k in sorted(alloc)}


def dirichlet_center(planned: Mapping[str, float]) -> np.ndarray:
    names = sorted(planned)
    p = np.array([planned[n] for n in names], dtype=np.float64)
    p = p / p.sum()
    return (1 - UNIFORM_BLEND) * p + UNIFORM_BLEND / len(names)


def sample_mixture(
    index: int,
    seed: int,
    planned: Mapping[str, float],
    caps: Mapping[str, float],
    concentration: float,
) -> dict[str, float]:
    """Proxy `index`'s mixture: the same for the same (seed, index), whatever ran before."""
    names = sorted(planned)
    rng = np.random.default_rng([seed, index, 0xAB1A7E])
    # alpha sums to concentration * sources: at 1 with a uniform centre, flat over the simplex.
    draw = rng.dirichlet(concentration * len(names) * dirichlet_center(planned))
    draw = np.where(draw < MIN_SHARE, 0.0, draw)
    if not draw.any():
        draw[int(np.argmax(dirichlet_center(planned)))] = 1.0
    return within_caps(dict(zip(names, draw.tolist(), strict=True)), caps)


def as_vector(weights: Mapping[str, float], names: list[str]) -> np.ndarray:
    return np.array([float(weights.get(n, 0.0)) for n in names], dtype=np.float64)
