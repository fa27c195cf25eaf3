"""Every number the report shows, taken from the manifest, the statistics and the plan.

Kept free of plotting and HTML so tests can check the figures against the manifest directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import Manifest, join, load_manifest, read_bytes
from polymix.core.manifest.storage import size
from polymix.core.mixture import MixtureError, plan_mixture, supply_from_totals
from polymix.core.stages import PIPELINE_STAGES

STATS_NAME = "stats.json"  # written by pipelines.statistics.RunStatistics
POSITION_KINDS = {"text": "text tokens", "image": "image patches", "audio": "audio frames"}
# Stages in the order the job runs them; stages a run names in stats.json take precedence.
DEFAULT_STAGE_ORDER = PIPELINE_STAGES


@dataclass(frozen=True)
class SourceRow:
    name: str
    modality: str
    input: int
    kept: int
    duplicates: int
    rejected: int
    records: int
    tokens: int  # every sequence position: text tokens, image patches and audio frames
    positions: dict[str, int]  # `tokens` by kind, as the manifest records it
    target_weight: float | None
    planned_weight: float | None
    epochs: float | None
    duplicates_by_stage: dict[str, int]
    rejected_by_stage: dict[str, dict[str, int]]
    eval_records: int = 0  # held out: in eval shards, not in `records`/`tokens`
    eval_tokens: int = 0


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    rejected: int
    duplicates: int
    remaining: int

    @property
    def removed(self) -> int:
        return self.rejected + self.duplicates


@dataclass
class ReportData:
    output: Path
    manifest: Manifest
    stats: dict[str, Any] | None
    plan: dict[str, Any] | None
    plan_origin: str  # "manifest", "report" or "error"
    plan_error: str | None
    rows: list[SourceRow] = field(default_factory=list)
    funnel: list[FunnelStep] = field(default_factory=list)

    @property
    def input_total(self) -> int:
        return sum(row.input for row in self.rows)


def _manifest_plan(manifest: Manifest) -> dict[str, Any] | None:
    plan = getattr(manifest, "plan", None)  # added by the lead once the run plans the mixture
    if plan is None:
        return None
    return plan.model_dump(mode="json") if hasattr(plan, "model_dump") else dict(plan)


def plan_for(
    manifest: Manifest, override: MixtureConfig | None
) -> tuple[dict[str, Any] | None, str, str | None]:
    """The manifest's own plan unless asked to re-plan; else plan now from its totals."""
    stored = _manifest_plan(manifest)
    if stored is not None and override is None:
        return stored, "manifest", None
    try:
        plan = plan_mixture(supply_from_totals(manifest.sources), override or MixtureConfig())
    except MixtureError as exc:
        return None, "error", str(exc)
    return plan.to_json(), "report", None


def stage_order(manifest: Manifest, stats: Mapping[str, Any] | None) -> list[str]:
    seen = set()
    for totals in manifest.sources.values():
        seen |= set(totals.rejected) | set(totals.duplicates)
    named = list((stats or {}).get("stages") or [])
    order = named + [s for s in DEFAULT_STAGE_ORDER if s not in named]
    return [s for s in order if s in seen] + sorted(seen - set(order))


def funnel(manifest: Manifest, stats: Mapping[str, Any] | None) -> list[FunnelStep]:
    """Documents left after each stage, summed over sources; ends at the manifest's kept."""
    remaining = sum(t.input for t in manifest.sources.values())
    steps = []
    for stage in stage_order(manifest, stats):
        rejected = sum(sum(t.rejected.get(stage, {}).values()) for t in manifest.sources.values())
        duplicates = sum(t.duplicates.get(stage, 0) for t in manifest.sources.values())
        remaining -= rejected + duplicates
        steps.append(FunnelStep(stage, rejected, duplicates, remaining))
    return steps


def source_rows(manifest: Manifest, plan: Mapping[str, Any] | None) -> list[SourceRow]:
    planned = (plan or {}).get("sources", {})
    rows = []
    for name, t in sorted(manifest.sources.items()):
        p = planned.get(name, {})
        rows.append(
            SourceRow(
                name=name,
                modality=t.modality,
                input=t.input,
                kept=t.kept,
                duplicates=t.duplicates_total,
                rejected=t.rejected_total,
                records=t.records,
                tokens=t.tokens,
                positions=dict(sorted(t.positions.items())),
                target_weight=p.get("target_weight"),
                planned_weight=p.get("planned_weight"),
                epochs=p.get("epochs"),
                duplicates_by_stage=dict(sorted(t.duplicates.items())),
                rejected_by_stage={
                    s: dict(sorted(r.items())) for s, r in sorted(t.rejected.items())
                },
                eval_records=t.eval_records,
                eval_tokens=t.eval_tokens,
            )
        )
    return rows


def read_stats(manifest: Manifest) -> dict[str, Any] | None:
    """The run's stats.json, beside its shards in the folder the manifest names; None if absent."""
    path = join(manifest.root, STATS_NAME)
    if size(path) is None:
        return None
    return json.loads(read_bytes(path))


def load_report_data(output: str | Path, replan: MixtureConfig | None = None) -> ReportData:
    """Everything the report shows of the run in `output` (a folder or a gs:// prefix)."""
    manifest = load_manifest(output)
    stats = read_stats(manifest)
    plan, origin, error = plan_for(manifest, replan)
    data = ReportData(Path(output), manifest, stats, plan, origin, error)
    data.rows = source_rows(manifest, plan)
    data.funnel = funnel(manifest, stats)
    return data


def mixture_json(data: ReportData) -> dict[str, Any]:
    """`report/mixture.json`: the plan plus where it came from; the manifest's weights alongside."""
    return {
        "origin": data.plan_origin,
        "error": data.plan_error,
        "manifest_mixture": dict(sorted(data.manifest.mixture.items())),
        "plan": data.plan,
    }
