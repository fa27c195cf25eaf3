"""The sweep's charts as PNG bytes, drawn from `ablation.json` alone (matplotlib, Agg).

Three: measured vs cross-validated predicted loss (does the fit rank mixtures?), the loss
landscape of each source against its own weight (what the proxies saw), and the chosen,
planned and uniform weights side by side.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from polymix.ablation.result import AblationResult  # noqa: E402

COLOURS = {"chosen": "#d1495b", "planned": "#3b75af", "uniform": "#9aa5b1"}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def predicted_vs_measured_png(result: AblationResult) -> bytes:
    sources = result.scored or result.sources
    fig = Figure(figsize=(3.2 * len(sources), 3.2))
    axes = fig.subplots(1, len(sources), squeeze=False)[0]
    for ax, source in zip(axes, sources, strict=True):
        measured = [p.losses[source] for p in result.proxies]
        for kind, marker in (("lightgbm", "o"), ("loglinear", "x")):
            predicted = [p.predicted.get(kind, {}).get(source) for p in result.proxies]
            if None in predicted:
                continue
            r2 = result.fits[kind].sources[source].r2
            ax.scatter(measured, predicted, marker=marker, s=14, label=f"{kind} (R² {r2:.2f})")
        low, high = min(measured), max(measured)
        ax.plot([low, high], [low, high], color="#222222", linewidth=0.8)
        ax.set_title(source, fontsize=9)
        ax.set_xlabel("measured held-out loss", fontsize=8)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("predicted (out of fold)", fontsize=8)
    return _png(fig)


def landscape_png(result: AblationResult) -> bytes:
    sources = result.scored or result.sources
    fig = Figure(figsize=(3.2 * len(sources), 3.2))
    axes = fig.subplots(1, len(sources), squeeze=False)[0]
    for ax, source in zip(axes, sources, strict=True):
        weights = [p.mixture.get(source, 0.0) for p in result.proxies]
        ax.scatter(weights, [p.losses[source] for p in result.proxies], s=14, color="#3b75af")
        for name in ("chosen", "planned", "uniform"):
            share = getattr(result, name).weights[source]
            ax.axvline(share, color=COLOURS[name], linewidth=1, label=name)
        ax.set_title(f"{source}: loss vs its weight", fontsize=9)
        ax.set_xlabel(f"weight of {source}", fontsize=8)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("held-out loss", fontsize=8)
    return _png(fig)


def weights_png(result: AblationResult) -> bytes:
    sources = result.sources
    fig = Figure(figsize=(max(4.0, 1.2 * len(sources) + 2), 3.2))
    ax = fig.subplots()
    width = 0.27
    for offset, name in enumerate(("planned", "uniform", "chosen")):
        values = [getattr(result, name).weights[s] for s in sources]
        xs = [i + (offset - 1) * width for i in range(len(sources))]
        ax.bar(xs, values, width, color=COLOURS[name], label=name)
    ax.set_xticks(range(len(sources)), sources, fontsize=8)
    ax.set_ylabel("share of positions", fontsize=8)
    ax.legend(fontsize=7)
    return _png(fig)


def all_pngs(result: AblationResult) -> dict[str, bytes]:
    return {
        "predicted_vs_measured.png": predicted_vs_measured_png(result),
        "landscape.png": landscape_png(result),
        "weights.png": weights_png(result),
    }
