"""Two runs side by side: per source counts and their ratios, histograms drawn over each other.

Made to answer "what did changing the config do": read from the two manifests and
stats.json files only, like the report, so comparing two 1 PB runs reads a few MB.
Histograms are drawn as the share of each run's documents per bin, so a run twice the
size of the other still shows whether the shape moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from polymix.report import html, plots
from polymix.report.data import POSITION_KINDS, ReportData, SourceRow, load_report_data

MEASURES = ("input", "kept", "duplicates", "rejected", "records", "tokens")
LABELS = {"tokens": "positions (all kinds)"}
SHARES = ("kept", "duplicates", "rejected")  # of input


@dataclass(frozen=True)
class Compared:
    a: ReportData
    b: ReportData
    label_a: str
    label_b: str


def _root(path: str | Path) -> str:
    return str(path).rstrip("/") if "://" in str(path) else str(Path(path))


def load_comparison(first: str | Path, second: str | Path) -> Compared:
    a, b = load_report_data(_root(first)), load_report_data(_root(second))
    names = [_root(first).rsplit("/", 1)[-1], _root(second).rsplit("/", 1)[-1]]
    if names[0] == names[1]:
        names = [_root(first), _root(second)]
    return Compared(a, b, f"A: {names[0]}", f"B: {names[1]}")


def _ratio(a: float, b: float) -> str:
    return "-" if a == 0 else f"{b / a:.3g}×"


def _measures(row: SourceRow | None) -> dict[str, float]:
    if row is None:
        return {}
    values: dict[str, float] = {m: getattr(row, m) for m in MEASURES}
    values |= {f"{k} / input": values[k] / row.input for k in SHARES if row.input}
    values |= {POSITION_KINDS[k]: n for k, n in row.positions.items() if k in POSITION_KINDS}
    return values


def _shown(value: float | None) -> Any:
    if value is None:
        return "-"
    return value if isinstance(value, int) else f"{value:.4f}"


def counts_rows(c: Compared) -> list[tuple]:
    """(source, measure, A, B, B/A) for every source of either run; absent is "-"."""
    rows_a = {r.name: r for r in c.a.rows}
    rows_b = {r.name: r for r in c.b.rows}
    out = []
    for source in sorted(rows_a.keys() | rows_b.keys()):
        a, b = _measures(rows_a.get(source)), _measures(rows_b.get(source))
        for measure in [*a, *(m for m in b if m not in a)]:
            va, vb = a.get(measure), b.get(measure)
            ratio = "-" if va is None or vb is None else _ratio(va, vb)
            out.append((source, LABELS.get(measure, measure), _shown(va), _shown(vb), ratio))
    return out


def _removed(data: ReportData) -> dict[tuple[str, str], int]:
    removed: dict[tuple[str, str], int] = {}
    for row in data.rows:
        for stage, reasons in row.rejected_by_stage.items():
            for reason, n in reasons.items():
                removed[(stage, reason)] = removed.get((stage, reason), 0) + n
        for stage, n in row.duplicates_by_stage.items():
            removed[(stage, "duplicate")] = removed.get((stage, "duplicate"), 0) + n
    return removed


def removal_rows(c: Compared) -> list[tuple]:
    """(stage, reason, A, B, B/A) over all sources: which cut removed more or less."""
    a, b = _removed(c.a), _removed(c.b)
    order = {s.stage: i for i, s in enumerate(c.a.funnel + c.b.funnel)}
    keys = sorted(a.keys() | b.keys(), key=lambda k: (order.get(k[0], len(order)), k))
    return [
        (s, r, a.get((s, r), 0), b.get((s, r), 0), _ratio(a.get((s, r), 0), b.get((s, r), 0)))
        for s, r in keys
    ]


def _totals(hist: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "edges": hist["edges"],
        "n": [p + r for p, r in zip(hist["passed"], hist["rejected"], strict=True)],
    }


def overlays(c: Compared) -> list[tuple[str, bytes, str]]:
    """(name, PNG, caption): every attribute either run measured, then record lengths."""
    stats_a, stats_b = c.a.stats or {}, c.b.stats or {}
    out = []
    for key, series, title in (
        ("attributes", _totals, "{}"),
        (
            "record_positions",
            lambda h: {"edges": h["edges"], "n": h["records"]},
            "positions per record: {}",
        ),
    ):
        found_a, found_b = stats_a.get(key) or {}, stats_b.get(key) or {}
        for name in sorted(found_a.keys() | found_b.keys()):
            runs = {c.label_a: found_a.get(name), c.label_b: found_b.get(name)}
            runs = {label: h for label, h in runs.items() if h and h["min"] != h["max"]}
            if not runs:
                continue
            shown = {label: series(h) for label, h in runs.items()}
            png = plots.overlaid_png(title.format(name), shown, "n", name)
            caption = "; ".join(
                f"{label}: {h['count']:,}, mean {h['mean']:.4g}" for label, h in runs.items()
            )
            out.append((title.format(name), png, caption))
    return out


def compare_html(c: Compared) -> str:
    figures = "".join(
        f"<figure>{html.img(png, name)}<figcaption>{escape(caption)}</figcaption></figure>"
        for name, png, caption in overlays(c)
    )
    header = ["source", "measure", c.label_a, c.label_b, "B / A"]
    body = (
        f"<p class=muted>{escape(c.label_a)} = {escape(str(c.a.output))}; "
        f"{escape(c.label_b)} = {escape(str(c.b.output))}</p>"
        "<h2>Per source</h2>"
        + html.table(header, counts_rows(c))
        + "<h2>Removed, by stage and reason (all sources)</h2>"
        + html.table(["stage", "reason", c.label_a, c.label_b, "B / A"], removal_rows(c))
        + "<h2>Histograms, as the share of each run's documents per bin</h2>"
        + f"<div class=grid>{figures or '<p class=muted>Neither run has statistics.</p>'}</div>"
    )
    title = f"polymix compare: {c.label_a} vs {c.label_b}"
    return html.page(title, "polymix: two runs compared", body)
