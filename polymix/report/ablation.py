"""The report re-planned from a sweep's chosen weights, with the sweep's own page.

`polymix report OUT --mixture ABL/ablation.json` takes the weights `polymix ablate`
chose as the sources' targets and plans them again with the run's budget and epoch
caps (`polymix.core.mixture.plan_mixture`), so a choice that would over-repeat a small
source is capped exactly as the pipeline's own plan would be. Nothing is re-run: the
manifest's totals are all the plan needs. The report goes to `ABL/report/` (beside the
sweep it came from), written into a fresh folder and renamed into place, so the run's
own `OUT/report/` is never touched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from polymix.ablation import plots as ablation_plots
from polymix.ablation.result import AblationResult, load_result
from polymix.ablation.settings import AblationError
from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import Manifest
from polymix.core.mixture import MixtureError, Supply, plan_mixture, supply_from_totals
from polymix.report.data import load_report_data, source_rows
from polymix.report.html import _CSS, img, table
from polymix.report.render import REPORT_DIR, Rendered, report_files
from polymix.report.table import render_table

PAGE = "ablation.html"


def replan_config(manifest: Manifest, override: MixtureConfig | None) -> MixtureConfig:
    """The run's budget and per-source caps (from its stored plan), or `override`'s.

    The budget is the run's number, even where the run planned for "all it kept": that
    rule counts only sources with a positive weight, and a choice that drops one must
    not shrink the run.
    """
    if override is not None:
        return override
    plan = manifest.plan or {}
    sources = plan.get("sources", {})
    caps = {name: float(p["max_epochs"]) for name, p in sorted(sources.items())}
    return MixtureConfig(budget_tokens=plan.get("budget"), max_epochs_per_source=caps)


def replan(
    manifest: Manifest, result: AblationResult, override: MixtureConfig | None = None
) -> dict[str, Any]:
    """The plan with the chosen weights as targets, the run's caps still applying."""
    if sorted(manifest.sources) != sorted(result.sources):
        raise AblationError(
            f"ablation.json is about sources {sorted(result.sources)}, the run has "
            f"{sorted(manifest.sources)}"
        )
    supply = {
        name: Supply(s.modality, result.chosen.weights[name], s.positions)
        for name, s in supply_from_totals(manifest.sources).items()
    }
    try:
        return plan_mixture(supply, replan_config(manifest, override)).to_json()
    except MixtureError as exc:
        raise AblationError(f"the chosen mixture cannot be planned: {exc}") from None


def page(result: AblationResult, plan: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    sources = result.sources
    weights = table(
        ["source", "planned", "uniform", "chosen", "re-planned (caps)"],
        [
            (
                s,
                result.planned.weights[s],
                result.uniform.weights[s],
                result.chosen.weights[s],
                plan["sources"][s]["planned_weight"],
            )
            for s in sources
        ],
    )
    predicted = table(
        ["mixture", "predicted objective", "± (CV folds)"],
        [
            (name, getattr(result, name).predicted_loss, getattr(result, name).uncertainty)
            for name in ("planned", "uniform", "chosen")
        ],
    )
    fits = table(
        ["fit", "source", "CV R²", "CV Spearman"],
        [
            (kind, source, score.r2, score.spearman)
            for kind, metrics in sorted(result.fits.items())
            for source, score in [
                *sorted(metrics.sources.items()),
                ("objective", metrics.objective),
            ]
        ],
    )
    settings = escape(", ".join(f"{k}={v}" for k, v in sorted(result.settings.items())))
    charts = "".join(img(png, name) for name, png in sorted(pngs.items()))
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>polymix ablation</title>"
        f"<style>{_CSS}</style></head><body><h1>Mixture by ablation</h1>"
        f"<p class=muted>{len(result.proxies)} proxies · seed {result.seed} · search on the "
        f"{escape(result.selected_fit)} fit · {settings}</p>"
        f"<h2>Weights</h2>{weights}<h2>Predicted objective</h2>{predicted}"
        f"<h2>Fits (k-fold over proxies)</h2>{fits}<h2>Charts</h2>{charts}</body></html>\n"
    )


def _write_folder(target: Path, files: Mapping[str, bytes]) -> None:
    """All of `files` in `target`, or the previous `target` untouched."""
    staging = target.with_name(f".{target.name}-{uuid.uuid4().hex[:12]}")
    staging.mkdir(parents=True)
    for name, data in files.items():
        (staging / name).write_bytes(data)
    old = target.with_name(f".{target.name}-old-{uuid.uuid4().hex[:12]}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def render_mixture_report(
    output: str | Path, ablation: str | Path, override: MixtureConfig | None = None
) -> Rendered:
    """The run's report with the chosen mixture re-planned, in the sweep's `report/`."""
    result = load_result(ablation)
    data = load_report_data(output)
    data.plan = replan(data.manifest, result, override)
    data.plan_origin, data.plan_error = "ablation", None
    data.rows = source_rows(data.manifest, data.plan)
    files = report_files(data)
    pngs = ablation_plots.all_pngs(result)
    link = f"<p><a href={PAGE}>The sweep behind this mixture: {PAGE}</a></p>"
    files["index.html"] = files["index.html"].replace(b"</h1>", b"</h1>" + link.encode(), 1)
    files[PAGE] = page(result, data.plan, pngs).encode("utf-8")
    files.update({f"ablation_{name}": png for name, png in pngs.items()})
    folder = Path(ablation).parent / REPORT_DIR
    _write_folder(folder, files)
    pngs_written = [folder / name for name in sorted(files) if name.endswith(".png")]
    return Rendered(
        folder,
        folder / "index.html",
        folder / "mixture.json",
        pngs_written,
        render_table(data),
        data,
    )
