"""One self-contained HTML page: inline CSS, charts as base64 PNG, no script and no network.

A report gets mailed, attached to tickets and opened offline, so it must not depend on
any file next to it or anything it would fetch.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from polymix.report.data import POSITION_KINDS, ReportData

SECTIONS = {
    "sources": "Sources",
    "funnel": "Funnel: what each stage removed",
    "examples": "Examples of what was removed",
    "attributes": "Quality attributes and their cuts",
    "languages": "Languages",
    "lengths": "Record lengths per source",
    "mixture": "Mixture: planned vs target",
    "clusters": "Duplicate clusters",
    "domains": "Top domains",
}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1em}.grid figure{margin:0}.grid img{width:100%}figcaption{font-size:12px;color:#555}
.doc{white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.35 ui-monospace,monospace;background:#f7f7f7;padding:.3em .5em;margin:.1em 0 .5em}
ol.docs{padding-left:1.5em}summary{cursor:pointer;margin:.2em 0}
.wide{overflow-x:auto}.wide table{font-size:13px}.wide td,.wide th{padding:.2em .4em}
td.changed{background:#fff4d6;white-space:nowrap}td small{color:#555}
.row{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}.warn{color:#a33}.muted{color:#777}img{max-width:100%}
"""


def img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(tag: str, value: Any) -> str:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        text = (
            f"{value:,}" if isinstance(value, int) else (f"{value:.4g}" if numeric else str(value))
        )
        return f"<{tag}{' class=n' if numeric else ''}>{escape(text)}</{tag}>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _kind(positions: Mapping[str, int], kind: str) -> int | str:
    """Positions of one kind; "-" where the manifest does not split them (an older run)."""
    return positions.get(kind, 0) if positions else "-"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def sources_section(data: ReportData) -> str:
    rows = [
        (
            r.name,
            r.modality,
            r.input,
            r.kept,
            r.duplicates,
            r.rejected,
            r.records,
            r.tokens,
            *(_kind(r.positions, kind) for kind in POSITION_KINDS),
            r.eval_records,
            r.eval_tokens,
            _fmt(r.target_weight),
            _fmt(r.planned_weight),
            _fmt(r.epochs, 2),
        )
        for r in data.rows
    ]
    main = table(
        [
            "source",
            "modality",
            "input",
            "kept",
            "duplicates",
            "rejected",
            "train records",
            "train positions (all kinds)",
            *POSITION_KINDS.values(),
            "held-out records",
            "held-out positions",
            "target weight",
            "planned weight",
            "epochs",
        ],
        rows,
    )
    order = {step.stage: i for i, step in enumerate(data.funnel)}
    removed = []
    for r in data.rows:
        stages = set(r.rejected_by_stage) | set(r.duplicates_by_stage)
        for stage in sorted(stages, key=lambda st: (order.get(st, len(order)), st)):
            reasons = dict(r.rejected_by_stage.get(stage, {}))
            if stage in r.duplicates_by_stage:
                reasons["duplicate"] = r.duplicates_by_stage[stage]
            ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            detail = ", ".join(f"{reason} {n:,}" for reason, n in ranked)
            removed.append((r.name, stage, sum(reasons.values()), detail))
    detail = table(["source", "stage", "removed", "reasons"], removed)
    balance = all(r.input == r.kept + r.duplicates + r.rejected for r in data.rows)
    note = (
        "input = kept + duplicates + rejected for every source"
        if balance
        else "ACCOUNTING DOES NOT BALANCE"
    )
    return f"<div class=wide>{main}</div><p class={'muted' if balance else 'warn'}>{note}</p><h3>Removed, by stage and reason</h3>{detail}"


def funnel_section(data: ReportData, png: bytes) -> str:
    rows = [("input", "", "", data.input_total)] + [
        (s.stage, s.rejected, s.duplicates, s.remaining) for s in data.funnel
    ]
    steps = table(["stage", "rejected", "duplicates", "remaining"], rows)
    return f"<div class=row>{img(png, 'funnel')}{steps}</div>"


def _figure(name: str, hist: Mapping[str, Any], png: bytes) -> str:
    cuts = "; ".join(f"{c['key']} = {c['value']:g} (keep {c['keep']})" for c in hist["cuts"])
    caption = (
        f"{hist['count']:,} documents, min {hist['min']:.4g}, mean {hist['mean']:.4g}, "
        f"max {hist['max']:.4g}" + (f"; {cuts}" if cuts else "")
    )
    return f"<figure>{img(png, name)}<figcaption>{escape(caption)}</figcaption></figure>"


def attributes_section(
    stats: Mapping[str, Any] | None,
    pngs: Mapping[str, bytes],
    source_pngs: Mapping[str, bytes] | None = None,
) -> str:
    """Attributes with a configured cut first, then each by source; the others folded away."""
    attributes = (stats or {}).get("attributes") or {}
    if not attributes:
        return "<p class=muted>No numeric attributes were recorded in this run.</p>"
    cut = [n for n, h in attributes.items() if h["cuts"] and n in pngs]
    other = [n for n, h in attributes.items() if not h["cuts"] and n in pngs]
    constant = [n for n in attributes if n not in pngs]
    parts = [
        "<p>Blue passed the attribute's own stage, red was rejected by it; dashed lines are the "
        "configured cuts, so the bars beyond a line are what moving it would keep or drop.</p>",
        f"<div class=grid>{''.join(_figure(n, attributes[n], pngs[n]) for n in cut)}</div>",
    ]
    if source_pngs:
        parts.append(_by_source(stats, source_pngs))
    if other:
        figures = "".join(_figure(n, attributes[n], pngs[n]) for n in other)
        parts.append(
            f"<details><summary>{len(other)} attributes without a cut</summary>"
            f"<div class=grid>{figures}</div></details>"
        )
    if constant:
        values = ", ".join(f"{n} = {attributes[n]['min']:g}" for n in constant)
        parts.append(f"<p class=muted>Constant in this run: {escape(values)}</p>")
    return "".join(parts)


def _by_source(stats: Mapping[str, Any], source_pngs: Mapping[str, bytes]) -> str:
    by_source = stats.get("attributes_by_source") or {}
    figures = []
    for name, png in source_pngs.items():
        counts = ", ".join(f"{s} {h[name]['count']:,}" for s, h in by_source.items() if name in h)
        caption = f"share of each source's documents per bin ({counts})"
        figures.append(
            f"<figure>{img(png, name)}<figcaption>{escape(caption)}</figcaption></figure>"
        )
    return (
        "<details open><summary>The same attributes by source</summary>"
        f"<div class=grid>{''.join(figures)}</div></details>"
    )


def languages_section(stats: Mapping[str, Any] | None, png: bytes | None) -> str:
    languages = (stats or {}).get("languages") or {}
    if not languages or png is None:
        return "<p class=muted>No language identification ran in this run.</p>"
    rows = [
        (source, lang, c.get("passed", 0), c.get("rejected", 0))
        for source, langs in languages.items()
        for lang, c in sorted(langs.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return img(png, "languages") + table(["source", "language", "passed", "rejected"], rows)


def _plan_rows(plan: Mapping[str, Any]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The plan's three tables: per source, per modality group, per position kind."""
    rows = [
        (
            n,
            s["modality"],
            s["available"],
            _fmt(s["target_weight"]),
            _fmt(s["planned_weight"]),
            round(s["planned_positions"]),
            _fmt(s["epochs"], 2),
            s["max_epochs"],
            "yes" if s["capped"] else "",
        )
        for n, s in sorted(plan["sources"].items())
    ]
    groups = [
        (
            g,
            m["available"],
            _fmt(m["target_weight"]),
            _fmt(m["planned_weight"]),
            "yes" if m["capped"] else "",
        )
        for g, m in sorted(plan["modalities"].items())
    ]
    kinds = [
        (k, _fmt(v["available"]), _fmt(v["planned"]))
        for k, v in sorted(plan["position_kinds"].items())
    ]
    return rows, groups, kinds


def mixture_section(data: ReportData, pngs: Mapping[str, bytes]) -> str:
    plan = data.plan
    if plan is None:
        return (
            f"<p class=warn>The mixture could not be planned: {escape(data.plan_error or '')}</p>"
        )
    origin = (
        "the run (manifest)"
        if data.plan_origin == "manifest"
        else "this report (from the manifest's totals)"
    )
    budget = (
        "the positions the run kept" if plan["budget_from"] == "kept" else "mixture.budget_tokens"
    )
    rows, groups, kinds = _plan_rows(plan)
    warnings = "".join(f"<p class=warn>{escape(w)}</p>" for w in plan["warnings"])
    return (
        f"<p>Budget {plan['budget']:,} positions ({budget}); planned by {origin}.</p>{warnings}"
        + img(pngs["mixture"], "mixture per source")
        + table(
            [
                "source",
                "modality",
                "kept positions",
                "target",
                "planned",
                "planned positions",
                "epochs",
                "epoch cap",
                "capped",
            ],
            rows,
        )
        + img(pngs["modalities"], "mixture per modality")
        + table(["modality group", "kept positions", "target", "planned", "capped"], groups)
        + table(["position kind", "share kept", "share planned"], kinds)
    )


def clusters_section(stats: Mapping[str, Any] | None, png: bytes | None) -> str:
    clusters = (stats or {}).get("clusters") or {}
    if not clusters or png is None:
        return "<p class=muted>No duplicates were found in this run.</p>"
    rows = [
        (stage, int(size), n)
        for stage, c in clusters.items()
        for size, n in sorted(c["sizes"].items(), key=lambda kv: int(kv[0]))
    ]
    return img(png, "duplicate clusters") + table(["stage", "cluster size", "clusters"], rows)


def domains_section(stats: Mapping[str, Any] | None, png: bytes | None) -> str:
    """Each source's largest domains: pages read, kept at the end, blocked by the URL filter."""
    domains = (stats or {}).get("domains") or {}
    if not domains:
        return "<p class=muted>No page in this run had a URL.</p>"
    parts = [img(png, "top domains")] if png else []
    for source, summary in domains.items():
        rows = [(d["domain"], d["pages"], d["kept"], d["blocked"]) for d in summary["top"]]
        shown = len(rows)
        parts.append(
            f"<h3>{escape(source)}</h3><p class=muted>{summary['domains']:,} domains; "
            f"the {shown:,} with the most pages:</p>"
            + table(["domain", "pages", "kept", "blocked by url_filter"], rows)
        )
    return "".join(parts)


def render_html(data: ReportData, bodies: Mapping[str, str]) -> str:
    m = data.manifest
    facts = (
        f"polymix {escape(m.polymix_version)} · config {escape(m.config_hash[:12])} · "
        f"{m.shard_count} shards · max_seq_len {m.max_seq_len}"
    )
    warnings = "".join(f"<p class=warn>warning: {escape(w)}</p>" for w in m.warnings)
    nav = " · ".join(f'<a href="#{key}">{escape(title)}</a>' for key, title in SECTIONS.items())
    sections = "".join(
        f'<section id="{key}"><h2>{escape(title)}</h2>{bodies[key]}</section>'
        for key, title in SECTIONS.items()
    )
    body = f"<p class=muted>{facts}</p>{warnings}<p>{nav}</p>{sections}"
    return page(f"polymix report: {data.output.name}", "polymix run report", body)


def page(title: str, heading: str, body: str) -> str:
    """The self-contained page around `body` (already HTML): no script, nothing fetched."""
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(heading)}</h1>{body}</body></html>\n"
    )
