"""The sweep in order: sample mixtures, train proxies, fit, search, write `ablation.json`.

`analyse` is the part after the proxies (fits, search, the record): a pure function of
the proxies' mixtures and losses, so it can be checked on losses with a known answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from polymix.ablation import plots
from polymix.ablation.fits import KINDS, better, fit
from polymix.ablation.result import RESULT_NAME, AblationResult
from polymix.ablation.runner import (
    check_sweep,
    run_proxies,
    write_atomically,
)
from polymix.ablation.sampling import (
    as_vector,
    manifest_plan,
    planned_weights,
    sample_mixture,
    share_caps,
    within_caps,
)
from polymix.ablation.search import describe, search
from polymix.ablation.settings import AblationError, AblationSettings
from polymix.core.manifest import Manifest, load_manifest, manifest_location, read_bytes


def measured_sources(manifest: Manifest) -> list[str]:
    """Every source: each must have held-out shards, since the fits predict every loss."""
    names = sorted(manifest.sources)
    missing = [n for n in names if not manifest.index_files("eval", n)]
    if missing:
        raise AblationError(
            f"source(s) {missing} have no held-out shards in the manifest (its eval split); "
            "the sweep measures every source's held-out loss"
        )
    return names


def scored_sources(proxies: list[dict[str, Any]], sources: list[str]) -> list[str]:
    """The sources every proxy has a held-out loss for."""
    scored = [s for s in sources if all(s in p["losses"] for p in proxies)]
    if not scored:
        raise AblationError("no source's held-out set has text to score (media without captions)")
    return scored


def objective_weights(settings: AblationSettings, sources: list[str]) -> dict[str, float]:
    """Normalised weight of each source's loss; unknown names are an error naming them."""
    given = settings.objective or {name: 1.0 for name in sources}
    unknown = sorted(set(given) - set(sources))
    if unknown:
        raise AblationError(
            f"ablation.objective: unknown source(s) {unknown}; sources are {sources}"
        )
    if any(w < 0 for w in given.values()) or sum(given.values()) <= 0:
        raise AblationError("ablation.objective: weights must be >= 0 with a positive sum")
    total = sum(given.values())
    return {name: given.get(name, 0.0) / total for name in sources}


def analyse(
    proxies: list[dict[str, Any]],
    sources: list[str],
    planned: Mapping[str, float],
    caps: Mapping[str, float],
    settings: AblationSettings,
    manifest_sha256: str,
) -> AblationResult:
    """Both fits, cross-validated; the search on the better one; the whole record.

    Every source's weight is a feature; a loss is fitted only for the sources whose
    held-out set has text targets (media without captions has no loss to score).
    """
    scored = scored_sources(proxies, sources)
    objective = objective_weights(settings, scored)
    weights = np.stack([as_vector(p["mixture"], sources) for p in proxies])
    losses = np.stack([as_vector(p["losses"], scored) for p in proxies])
    obj = as_vector(objective, scored)
    folds, seed = settings.folds, settings.seed
    fits = [fit(k, weights, losses, scored, obj, folds, seed, mixed=sources) for k in KINDS]
    chosen_fit = better(fits)
    chosen = search(
        chosen_fit,
        objective,
        planned,
        caps,
        candidates=settings.candidates,
        concentration=settings.concentration,
        seed=settings.seed,
    )
    uniform = within_caps({name: 1.0 for name in sources}, caps)
    records = [
        {
            **p,
            "predicted": {
                f.kind: {s: float(f.out_of_fold[i, j]) for j, s in enumerate(scored)} for f in fits
            },
        }
        for i, p in enumerate(proxies)
    ]
    return AblationResult(
        manifest_sha256=manifest_sha256,
        seed=settings.seed,
        settings=settings.model_dump(mode="json"),
        sources=sources,
        scored=scored,
        objective=objective,
        caps=dict(caps),
        proxies=records,
        fits={f.kind: f.metrics for f in fits},
        selected_fit=chosen_fit.kind,
        chosen=chosen,
        planned=describe(chosen_fit, planned, obj),
        uniform=describe(chosen_fit, uniform, obj),
    )


def write_result(output: Path, result: AblationResult) -> Path:
    for name, png in plots.all_pngs(result).items():
        (output / name).write_bytes(png)
    write_atomically(output / RESULT_NAME, result.to_json())
    return output / RESULT_NAME


def run_ablation(
    manifest_path: str | Path,
    output: str | Path,
    settings: AblationSettings,
    *,
    say: Callable[[str], None] = print,
) -> AblationResult | None:
    """The whole sweep; None when a signal stopped it (run again to continue)."""
    file, _ = manifest_location(manifest_path)
    manifest = load_manifest(file)
    sha = hashlib.sha256(read_bytes(file)).hexdigest()
    sources = measured_sources(manifest)
    objective_weights(settings, sources)  # refuse a bad objective before training anything
    plan = manifest_plan(manifest)
    planned, caps = planned_weights(plan), share_caps(plan)
    mixtures = [
        sample_mixture(i, settings.seed, planned, caps, settings.concentration)
        for i in range(settings.proxies)
    ]
    output = Path(output)
    check_sweep(output, settings.identity() | {"manifest_sha256": sha})
    proxies = run_proxies(Path(file), output, settings, mixtures, sources, say)
    if proxies is None:
        return None
    result = analyse(proxies, sources, planned, caps, settings, sha)
    write_result(output, result)
    return result
