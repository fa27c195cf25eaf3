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
    order: dict[str, int] = {}
    for step in c.a.funnel + c.b.funnel:  # the order the runs ran their stages in
        order.setdefault(step.stage, len(order))
    keys = sorted(a.keys() | b.keys(), key=lambda k: (order.get(k[0], len(order)), k))
    rows = []
    for stage, reason in keys:
        na, nb = a.get((stage, reason), 0), b.get((stage, reason), 0)
        rows.append((stage, reason, na, nb, _ratio(na, nb)))
    return rows


def _documents(hist: Mapping[str, Any]) -> list[int]:
    return [p + r for p, r in zip(hist["passed"], hist["rejected"], strict=True)]


def _records(hist: Mapping[str, Any]) -> list[int]:
    return hist["records"]


# stats.json key, the counts of one histogram, how its chart is titled
OVERLAID = (
    ("attributes", _documents, "{}"),
    ("record_positions", _records, "positions per record: {}"),
)


def _overlay(title: str, runs: dict[str, Any], counts) -> tuple[str, bytes, str]:
    shown = {label: {"edges": h["edges"], "n": counts(h)} for label, h in runs.items()}
    caption = "; ".join(
        f"{label}: {h['count']:,}, mean {h['mean']:.4g}" for label, h in runs.items()
    )
    return title, plots.overlaid_png(title, shown, "n", title), caption


def overlays(c: Compared) -> list[tuple[str, bytes, str]]:
    """(title, PNG, caption): every attribute either run measured, then record lengths."""
    out = []
    for key, counts, title in OVERLAID:
        found_a, found_b = (c.a.stats or {}).get(key) or {}, (c.b.stats or {}).get(key) or {}
        for name in sorted(found_a.keys() | found_b.keys()):
            runs = {c.label_a: found_a.get(name), c.label_b: found_b.get(name)}
            runs = {label: h for label, h in runs.items() if h and h["min"] != h["max"]}
            if runs:  # a constant has no shape to compare
                out.append(_overlay(title.format(name), runs, counts))
    return out


def _text(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pair(a: Any, b: Any, ratio: str) -> str:
    """One cell: the value where both runs agree, else `A → B` and B/A under it, marked."""
    if a == b:
        return f"<td class=n>{escape(_text(a))}</td>"
    return (
        f"<td class='n changed'>{escape(_text(a))} → {escape(_text(b))}"
        f"<br><small>{escape(ratio)}</small></td>"
    )


def counts_table(c: Compared) -> str:
    """One row per source, one column per measure: what changed stands out."""
    cells: dict[str, dict[str, str]] = {}
    for source, measure, a, b, ratio in counts_rows(c):
        cells.setdefault(source, {})[measure] = _pair(a, b, ratio)
    measures = list(dict.fromkeys(m for row in cells.values() for m in row))
    head = "".join(f"<th>{escape(m)}</th>" for m in ["source", *measures])
    body = "".join(
        f"<tr><td>{escape(source)}</td>"
        + "".join(row.get(m, "<td class=n>-</td>") for m in measures)
        + "</tr>"
        for source, row in cells.items()
    )
    return f"<div class=wide><table><tr>{head}</tr>{body}</table></div>"


def removals_table(c: Compared) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("stage", "reason", "removed"))
    body = "".join(
        f"<tr><td>{escape(stage)}</td><td>{escape(reason)}</td>{_pair(a, b, ratio)}</tr>"
        for stage, reason, a, b, ratio in removal_rows(c)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def compare_html(c: Compared) -> str:
    figures = "".join(
        f"<figure>{html.img(png, name)}<figcaption>{escape(caption)}</figcaption></figure>"
        for name, png, caption in overlays(c)
    )
    body = (
        f"<p class=muted>{escape(c.label_a)} = {escape(str(c.a.output))}; "
        f"{escape(c.label_b)} = {escape(str(c.b.output))}. A cell shows one number where "
        "the runs agree, else A → B and B / A under it.</p>"
        "<h2>Per source</h2>"
        + counts_table(c)
        + "<h2>Removed, by stage and reason (all sources)</h2>"
        + removals_table(c)
        + "<h2>Histograms, as the share of each run's documents per bin</h2>"
        + f"<div class=grid>{figures or '<p class=muted>Neither run has statistics.</p>'}</div>"
    )
    title = f"polymix compare: {c.label_a} vs {c.label_b}"
    return html.page(title, "polymix: two runs compared", body)
