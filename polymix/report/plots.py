"""The report's charts as PNG bytes (matplotlib's object API on the Agg canvas: no display needed).

Each function takes plain numbers and returns one small PNG, so the HTML can inline it and the
same bytes can be written next to it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from polymix.report.data import FunnelStep  # noqa: E402

KEPT, REMOVED, TARGET, PLANNED, CUT = "#3b75af", "#d1495b", "#9aa5b1", "#3b75af", "#222222"
# Fixed margins instead of constrained layout, which measured every label of every small
# multiple again and cost half the report's CPU; room for a 6-digit y label and a title.
SMALL_MULTIPLE_MARGINS = {"left": 0.17, "right": 0.97, "bottom": 0.12, "top": 0.89}


def _png(fig: Figure, tight: bool = True) -> bytes:
    """PNG bytes; `tight=False` keeps the figure's own size, so small multiples line up."""
    buffer = io.BytesIO()
    box = "tight" if tight else None
    fig.savefig(buffer, format="png", dpi=80, bbox_inches=box, metadata={"Software": None})
    return buffer.getvalue()


def funnel_png(input_total: int, steps: Sequence[FunnelStep]) -> bytes:
    """Documents left after each stage, with what the stage removed stacked on the right."""
    labels = ["input"] + [s.stage for s in steps]
    left = [input_total] + [s.remaining for s in steps]
    removed = [0] + [s.removed for s in steps]
    fig = Figure(figsize=(6, 0.4 * len(labels) + 1))
    ax = fig.subplots()
    y = list(range(len(labels)))[::-1]
    ax.barh(y, left, color=KEPT, label="remaining")
    ax.barh(y, removed, left=left, color=REMOVED, label="removed at this stage")
    for yi, n, r in zip(y, left, removed, strict=True):
        ax.text(n + r, yi, f" {n:,}" + (f"  (-{r:,})" if r else ""), va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlabel("documents")
    ax.set_xlim(0, max(input_total, 1) * 1.3)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _paired_bars(ax: Any, names: Sequence[str], target: Sequence[float], planned: Sequence[float]):
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], target, 0.4, color=TARGET, label="target")
    ax.bar([i + 0.2 for i in x], planned, 0.4, color=PLANNED, label="planned")
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    ax.set_ylabel("share of positions")
    ax.legend(fontsize=8)


def mixture_png(plan: Mapping[str, Any]) -> bytes:
    """Target vs planned share per source, and the epochs each source is read (cap marked)."""
    names = sorted(plan["sources"])
    sources = [plan["sources"][n] for n in names]
    fig = Figure(figsize=(8, 3.2))
    shares, epochs = fig.subplots(1, 2)
    _paired_bars(
        shares, names, [s["target_weight"] for s in sources], [s["planned_weight"] for s in sources]
    )
    shares.set_title("per source", fontsize=10)
    colors = [REMOVED if s["capped"] else KEPT for s in sources]
    epochs.bar(names, [s["epochs"] for s in sources], color=colors)
    epochs.scatter(
        names, [s["max_epochs"] for s in sources], marker="_", s=400, color=CUT, label="cap"
    )
    epochs.set_ylabel("epochs")
    epochs.set_title("epochs (red: capped, share redistributed)", fontsize=10)
    epochs.tick_params(axis="x", rotation=30)
    epochs.legend(fontsize=8)
    return _png(fig)


def modality_png(plan: Mapping[str, Any]) -> bytes:
    """Target vs planned per modality group, and planned share per position kind."""
    groups = sorted(plan["modalities"])
    kinds = sorted(plan["position_kinds"])
    fig = Figure(figsize=(8, 3))
    by_group, by_kind = fig.subplots(1, 2)
    _paired_bars(
        by_group,
        groups,
        [plan["modalities"][g]["target_weight"] for g in groups],
        [plan["modalities"][g]["planned_weight"] for g in groups],
    )
    by_group.set_title("per modality group", fontsize=10)
    x = range(len(kinds))
    by_kind.bar(
        [i - 0.2 for i in x],
        [plan["position_kinds"][k]["available"] for k in kinds],
        0.4,
        color=TARGET,
        label="kept",
    )
    by_kind.bar(
        [i + 0.2 for i in x],
        [plan["position_kinds"][k]["planned"] for k in kinds],
        0.4,
        color=PLANNED,
        label="planned",
    )
    by_kind.set_xticks(list(x), kinds)
    by_kind.set_title("per position kind (tokens, patches, frames)", fontsize=10)
    by_kind.legend(fontsize=8)
    return _png(fig)


def attribute_png(name: str, hist: Mapping[str, Any]) -> bytes:
    """The attribute's histogram, passed vs rejected by its own stage, with every configured cut.

    The axis spans the data, not the cuts: a cut far outside it is named at the edge instead
    of squeezing the histogram into a corner.
    """
    edges = hist["edges"]
    passed, rejected = hist["passed"], hist["rejected"]
    fig = Figure(figsize=(4.2, 2.6))
    fig.subplots_adjust(**SMALL_MULTIPLE_MARGINS)
    ax = fig.subplots()
    total = [p + r for p, r in zip(passed, rejected, strict=True)]
    ax.stairs(total, edges, fill=True, color=REMOVED, label="rejected by its stage")
    ax.stairs(passed, edges, fill=True, color=KEPT, label="passed")
    if edges[-1] > 2 and edges[0] >= 0:
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(edges[0], edges[-1])
    for cut in hist.get("cuts", []):
        value, label = cut["value"], f"keep {cut['keep']} {cut['value']:g}"
        if edges[0] <= value <= edges[-1]:
            ax.axvline(value, color=CUT, linestyle="--", linewidth=1)
            ax.annotate(
                f" {label}", (value, 1), xycoords=("data", "axes fraction"), va="top", fontsize=7
            )
        else:
            left = value < edges[0]
            text = f"◀ cut: {label}" if left else f"cut: {label} ▶"
            ax.annotate(
                text,
                (0.02 if left else 0.98, 0.97),
                xycoords="axes fraction",
                ha="left" if left else "right",
                va="top",
                fontsize=7,
            )
    ax.set_title(name, fontsize=9)
    ax.set_ylabel("documents", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="center right")
    return _png(fig, tight=False)


def languages_png(languages: Mapping[str, Mapping[str, Mapping[str, int]]], top: int = 15) -> bytes:
    """Documents per detected language, over all sources: kept by the language stage or not."""
    totals: dict[str, list[int]] = {}
    for langs in languages.values():
        for lang, counts in langs.items():
            entry = totals.setdefault(lang, [0, 0])
            entry[0] += counts.get("passed", 0)
            entry[1] += counts.get("rejected", 0)
    shown = sorted(totals, key=lambda k: (-sum(totals[k]), k))[:top]
    fig = Figure(figsize=(6, 0.3 * len(shown) + 1))
    ax = fig.subplots()
    y = list(range(len(shown)))[::-1]
    ax.barh(y, [totals[k][0] for k in shown], color=KEPT, label="passed")
    ax.barh(
        y,
        [totals[k][1] for k in shown],
        left=[totals[k][0] for k in shown],
        color=REMOVED,
        label="rejected by language",
    )
    ax.set_yticks(y, shown)
    ax.set_xlabel("documents")
    ax.legend(fontsize=8)
    return _png(fig)


def clusters_png(clusters: Mapping[str, Mapping[str, Any]]) -> bytes:
    """How many duplicate clusters of each size every dedup stage found (log scale)."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.subplots()
    stages = sorted(clusters)
    width = 0.8 / max(len(stages), 1)
    for i, stage in enumerate(stages):
        sizes = {int(s): n for s, n in clusters[stage]["sizes"].items()}
        ax.bar(
            [s + (i - (len(stages) - 1) / 2) * width for s in sizes],
            list(sizes.values()),
            width,
            label=stage,
        )
    ax.set_yscale("log")
    ax.set_xlabel("cluster size (documents, the kept one included)")
    ax.set_ylabel("clusters")
    ax.legend(fontsize=8)
    return _png(fig)


def domains_png(domains: Mapping[str, Mapping[str, Any]], top: int = 15) -> bytes:
    """Pages of the largest domains over all sources: kept, blocked, removed otherwise."""
    totals: dict[str, list[int]] = {}
    for summary in domains.values():
        for entry in summary["top"]:
            counts = totals.setdefault(entry["domain"], [0, 0, 0])
            counts[0] += entry["pages"]
            counts[1] += entry["kept"]
            counts[2] += entry["blocked"]
    shown = sorted(totals, key=lambda d: (-totals[d][0], d))[:top]
    fig = Figure(figsize=(6, 0.3 * len(shown) + 1))
    ax = fig.subplots()
    y = list(range(len(shown)))[::-1]
    kept = [totals[d][1] for d in shown]
    blocked = [totals[d][2] for d in shown]
    other = [totals[d][0] - totals[d][1] - totals[d][2] for d in shown]
    ax.barh(y, kept, color=KEPT, label="kept")
    ax.barh(y, blocked, left=kept, color=CUT, label="blocked by url_filter")
    ax.barh(
        y,
        other,
        left=[k + b for k, b in zip(kept, blocked, strict=True)],
        color=REMOVED,
        label="removed by other stages",
    )
    ax.set_yticks(y, shown, fontsize=8)
    ax.set_xlabel("pages")
    ax.legend(fontsize=8)
    return _png(fig)


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts) or 1
    return [n / total for n in counts]


def overlaid_png(
    title: str,
    series: Mapping[str, Mapping[str, Any]],
    key: str,
    xlabel: str,
    cuts: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """Share of the count in each bin, one outline per series: sizes differ, shapes compare."""
    fig = Figure(figsize=(6, 2.8))
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.17, top=0.9)
    ax = fig.subplots()
    low = min(h["edges"][0] for h in series.values())
    high = max(h["edges"][-1] for h in series.values())
    for i, (label, hist) in enumerate(series.items()):  # dashes tell apart outlines that meet
        style = ("-", "--", ":")[i % 3]
        ax.stairs(_shares(hist[key]), hist["edges"], linewidth=1.6, linestyle=style, label=label)
    if high > 2 and low >= 0:  # the attribute charts' own rule, so both read the same
        ax.set_xscale("symlog", linthresh=1)
    for cut in cuts:
        if low <= cut["value"] <= high:
            ax.axvline(cut["value"], color=CUT, linestyle="--", linewidth=1)
            label = f" keep {cut['keep']} {cut['value']:g}"
            ax.annotate(
                label, (cut["value"], 1), xycoords=("data", "axes fraction"), va="top", fontsize=7
            )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("share", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig, tight=False)


def record_lengths_png(lengths: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Positions per shard record, one outline per source (a long document gives several)."""
    return overlaid_png("positions per record, by source", lengths, "records", "positions")


def attribute_by_source_png(
    name: str, by_source: Mapping[str, Mapping[str, Any]], cuts: Sequence[Mapping[str, Any]] = ()
) -> bytes:
    """One attribute's distribution per source (shares, passed and rejected together).

    Shares rather than counts: a large source would flatten a small one's outline, and the
    question is where each source's documents sit against the cut.
    """
    series = {
        source: {
            "edges": h["edges"],
            "documents": [p + r for p, r in zip(h["passed"], h["rejected"], strict=True)],
        }
        for source, h in by_source.items()
    }
    return overlaid_png(f"{name}, by source", series, "documents", name, cuts)
