"""Mixture planning: target weights + what each source really kept -> the weights the trainer uses.

A target weight says what share of the training positions a source should give. Whether it
can depends on how much the source kept after dedup and filtering: at a budget of B
positions, a source with weight w and D kept positions is read `w * B / D` times. When that
exceeds the source's epoch cap, the source is capped at `cap * D` positions and what it
cannot give goes to the uncapped sources in proportion to their weights (UniMax, Chung et
al. 2023, generalised from uniform to weighted shares). This is water-filling: every uncapped
source gets `lambda * w`, one common `lambda`, so the planned weights keep the targets'
ratios wherever the data allows it.

With `modality_weights` the same filling runs twice: first over modality groups (a group can
give at most the sum of its sources' caps), then inside each group over its sources.

Positions are sequence positions: text tokens, image patches and audio frames all count
one each, because that is what a training step spends. Pure functions, no Beam.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from polymix.core.config.mixture import MixtureConfig
from polymix.core.errors import UserFacingError

_EPS = 1e-9


class MixtureError(UserFacingError, ValueError):
    """The targets cannot be met (budget too large, caps too tight); the message says what to change."""


@dataclass(frozen=True)
class Supply:
    """What one source offers the plan: its group, its target weight, its kept positions by kind."""

    modality: str
    weight: float
    positions: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.positions.values())


@dataclass(frozen=True)
class SourcePlan:
    modality: str
    available: int
    positions: dict[str, int]
    target_weight: float
    planned_weight: float
    planned_positions: float
    epochs: float
    max_epochs: float
    capped: bool


@dataclass(frozen=True)
class GroupPlan:
    available: int
    target_weight: float
    planned_weight: float
    capped: bool


@dataclass(frozen=True)
class MixturePlan:
    budget: int
    budget_from: str  # "config" or "kept"
    sources: dict[str, SourcePlan]
    modalities: dict[str, GroupPlan]
    position_kinds: dict[str, dict[str, float]]  # kind -> {"available": share, "planned": share}
    warnings: list[str] = field(default_factory=list)

    def weights(self) -> dict[str, float]:
        """Planned share of positions per source: what `manifest.mixture` holds for the trainer."""
        return {name: plan.planned_weight for name, plan in sorted(self.sources.items())}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def water_fill(
    budget: float, weights: Mapping[str, float], caps: Mapping[str, float]
) -> tuple[dict[str, float], set[str]]:
    """Split `budget` in proportion to `weights`, never giving a key more than its cap.

    Returns the allocation and the keys that hit their cap. Keys that would exceed their
    cap at the current level are capped all at once: raising the level for the others can
    only push them further over, so each round fixes at least one key for good.
    """
    alloc = {key: 0.0 for key in sorted(weights)}
    active = {key for key, w in weights.items() if w > 0}
    capped: set[str] = set()
    remaining = float(budget)
    while active:
        total = sum(weights[key] for key in sorted(active))
        over = {key for key in active if caps[key] < remaining * weights[key] / total}
        if not over:
            for key in sorted(active):
                alloc[key] = remaining * weights[key] / total
            return alloc, capped
        for key in sorted(over):
            alloc[key] = float(caps[key])
            remaining -= caps[key]
        capped |= over
        active -= over
    return alloc, capped


def _normalized(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights[k] for k in sorted(weights))
    return {k: (w / total if total > 0 else 0.0) for k, w in sorted(weights.items())}


def _epoch_caps(supply: Mapping[str, Supply], config: MixtureConfig) -> dict[str, float]:
    unknown = sorted(set(config.max_epochs_per_source) - set(supply))
    if unknown:
        raise MixtureError(
            f"mixture.max_epochs_per_source names unknown source(s) {unknown}; "
            f"sources are {sorted(supply)}"
        )
    return {name: config.max_epochs_per_source.get(name, config.max_epochs) for name in supply}


def _targets(
    supply: Mapping[str, Supply], config: MixtureConfig, warnings: list[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Normalized target weight per source and per modality group."""
    weights = {name: s.weight for name, s in supply.items()}
    if not any(w > 0 for w in weights.values()):
        raise MixtureError("every source has weight 0: nothing to train on")
    if config.modality_weights is None:
        targets = _normalized(weights)
        groups: dict[str, float] = {}
        for name, s in supply.items():
            groups[s.modality] = groups.get(s.modality, 0.0) + targets[name]
        return targets, dict(sorted(groups.items()))
    used = {s.modality for s in supply.values() if s.weight > 0}
    missing = sorted(m for m in used if m not in config.modality_weights)
    if missing:
        raise MixtureError(
            f"mixture.modality_weights has no entry for modality {missing} "
            f"(sources {sorted(n for n, s in supply.items() if s.modality in missing)})"
        )
    empty = sorted(m for m, w in config.modality_weights.items() if w > 0 and m not in used)
    if empty:
        warnings.append(
            f"mixture.modality_weights gives weight to {empty} but no source of that modality "
            "has a positive weight; its share goes to the other modalities"
        )
    groups = _normalized({m: config.modality_weights[m] for m in sorted(used)})
    targets = {}
    for group, share in groups.items():
        members = _normalized({n: s.weight for n, s in supply.items() if s.modality == group})
        targets.update({n: share * w for n, w in members.items()})
    targets.update({n: 0.0 for n in supply if n not in targets})
    return dict(sorted(targets.items())), groups


def _check_feasible(
    budget: int, supply: Mapping[str, Supply], caps: Mapping[str, float], targets: dict
) -> None:
    capacity = sum(caps[n] * supply[n].total for n in sorted(supply) if targets[n] > 0)
    if budget > capacity * (1 + _EPS):
        detail = ", ".join(
            f"{n}: {supply[n].total:,} x {caps[n]:g}" for n in sorted(supply) if targets[n] > 0
        )
        raise MixtureError(
            f"a budget of {budget:,} positions is more than the sources can give within their "
            f"epoch caps ({capacity:,.0f} = {detail}); lower mixture.budget_tokens, raise "
            "mixture.max_epochs or mixture.max_epochs_per_source, or add data"
        )


def _check_redistribution(
    capped: set[str],
    targets: Mapping[str, float],
    budget: int,
    supply: Mapping[str, Supply],
    caps: Mapping[str, float],
) -> None:
    if not capped:
        return
    name = sorted(capped)[0]
    available = supply[name].total
    need = targets[name] * budget / available if available else float("inf")
    raise MixtureError(
        f"{name} would need {need:.2f} epochs to reach its target weight {targets[name]:.4f} of "
        f"{budget:,} positions, above its cap of {caps[name]:g}; with mixture.redistribute false "
        "this is an error: lower the budget, raise the cap, or set redistribute true"
    )


def check_mixture_config(config: MixtureConfig, modalities: Mapping[str, str]) -> None:
    """Fail at launch, not after the run, on names the plan could never resolve.

    `modalities` maps each configured source name to its modality.
    """
    unknown = sorted(set(config.max_epochs_per_source) - set(modalities))
    if unknown:
        raise MixtureError(
            f"mixture.max_epochs_per_source names unknown source(s) {unknown}; "
            f"sources are {sorted(modalities)}"
        )
    if config.modality_weights is not None:
        missing = sorted(set(modalities.values()) - set(config.modality_weights))
        if missing:
            raise MixtureError(f"mixture.modality_weights has no entry for modality {missing}")


def _source_plans(
    supply: Mapping[str, Supply],
    targets: Mapping[str, float],
    caps: Mapping[str, float],
    planned: Mapping[str, float],
    capped: set[str],
    budget: float,
) -> dict[str, SourcePlan]:
    """Each source's row of the plan, in positions and as a share of the budget."""
    return {
        name: SourcePlan(
            modality=s.modality,
            available=s.total,
            positions=dict(sorted(s.positions.items())),
            target_weight=targets[name],
            planned_weight=planned.get(name, 0.0) / budget,
            planned_positions=planned.get(name, 0.0),
            epochs=planned.get(name, 0.0) / s.total if s.total else 0.0,
            max_epochs=caps[name],
            capped=name in capped,
        )
        for name, s in supply.items()
    }


def plan_mixture(supply: Mapping[str, Supply], config: MixtureConfig) -> MixturePlan:
    """Planned weights and epochs per source; raises `MixtureError` when the budget is infeasible."""
    if not supply:
        raise MixtureError("no sources to plan a mixture for")
    supply = dict(sorted(supply.items()))
    warnings: list[str] = []
    caps = _epoch_caps(supply, config)
    targets, group_targets = _targets(supply, config, warnings)
    budget = config.budget_tokens
    budget_from = "config"
    if budget is None:
        budget = sum(s.total for n, s in supply.items() if targets[n] > 0)
        budget_from = "kept"
        if budget == 0:
            raise MixtureError("no source with a positive weight kept any positions")
    _check_feasible(budget, supply, caps, targets)
    limit = {n: caps[n] * s.total for n, s in supply.items()}
    group_of = {n: s.modality for n, s in supply.items()}
    group_limit = {
        g: sum(limit[n] for n in supply if group_of[n] == g and targets[n] > 0)
        for g in group_targets
    }
    if config.modality_weights is None:  # one filling over all sources: plain weighted UniMax
        planned, sources_capped = water_fill(budget, targets, limit)
        group_alloc = {g: sum(planned[n] for n in supply if group_of[n] == g) for g in group_limit}
        groups_capped = {g for g in group_limit if group_alloc[g] >= group_limit[g] * (1 - _EPS)}
    else:
        group_alloc, groups_capped = water_fill(budget, group_targets, group_limit)
        planned, sources_capped = {}, set()
        for group in sorted(group_targets):
            members = {n: targets[n] for n in supply if group_of[n] == group}
            alloc, capped = water_fill(group_alloc[group], members, limit)
            planned.update(alloc)
            sources_capped |= capped
    if not config.redistribute:
        _check_redistribution(sources_capped, targets, budget, supply, caps)
    for name in sorted(sources_capped):
        if supply[name].total == 0:
            warnings.append(f"source {name} kept no positions; its target weight is redistributed")
    sources = _source_plans(supply, targets, caps, planned, sources_capped, budget)
    modalities = {
        group: GroupPlan(
            available=sum(s.total for n, s in supply.items() if group_of[n] == group),
            target_weight=group_targets[group],
            planned_weight=group_alloc[group] / budget,
            capped=group in groups_capped,
        )
        for group in group_targets
    }
    return MixturePlan(
        budget, budget_from, sources, modalities, _kind_shares(sources, budget), warnings
    )


def _kind_shares(sources: Mapping[str, SourcePlan], budget: int) -> dict[str, dict[str, float]]:
    """Share of available and of planned positions per kind (text tokens, image patches, ...)."""
    kinds = sorted({k for plan in sources.values() for k in plan.positions})
    total = sum(plan.available for plan in sources.values()) or 1
    out = {}
    for kind in kinds:
        available = sum(plan.positions.get(kind, 0) for plan in sources.values())
        planned = sum(
            plan.epochs * plan.positions.get(kind, 0) for _, plan in sorted(sources.items())
        )
        out[kind] = {"available": available / total, "planned": planned / budget}
    return out


def position_kind(modality: str) -> str:
    """What a source's positions are when the manifest has no per-kind breakdown."""
    return "text" if modality in ("text", "code") else modality


def supply_from_totals(sources: Mapping[str, Any]) -> dict[str, Supply]:
    """Supplies from the manifest's per-source totals (`polymix.core.manifest.SourceTotals`).

    Uses `positions` (kind -> positions) when the manifest has it, else all `tokens` count
    as the modality's own kind.
    """
    out = {}
    for name, totals in sorted(sources.items()):
        positions = getattr(totals, "positions", None) or {
            position_kind(totals.modality): totals.tokens
        }
        out[name] = Supply(totals.modality, totals.weight, dict(positions))
    return out
