"""Write `OUT/report/`: index.html, mixture.json and every chart as its own PNG."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from polymix.core.config.mixture import MixtureConfig
from polymix.report import html, plots
from polymix.report.data import ReportData, load_report_data, mixture_json
from polymix.report.table import render_table

REPORT_DIR = "report"


@dataclass(frozen=True)
class Rendered:
    folder: Path
    html: Path
    mixture: Path
    pngs: list[Path]
    table: str
    data: ReportData


def _file_name(attribute: str) -> str:
    return "attr_" + re.sub(r"[^A-Za-z0-9_.-]", "_", attribute) + ".png"


def render_report(output: str | Path, replan: MixtureConfig | None = None) -> Rendered:
    """Render the report of the run in `output`; `replan` re-plans the mixture with other settings."""
    data = load_report_data(output, replan)
    folder = Path(output) / REPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stats = data.stats or {}
    pngs: dict[str, bytes] = {"funnel.png": plots.funnel_png(data.input_total, data.funnel)}
    if data.plan is not None:
        pngs["mixture.png"] = plots.mixture_png(data.plan)
        pngs["modalities.png"] = plots.modality_png(data.plan)
    if stats.get("languages"):
        pngs["languages.png"] = plots.languages_png(stats["languages"])
    if stats.get("clusters"):
        pngs["clusters.png"] = plots.clusters_png(stats["clusters"])
    attribute_pngs = {  # a constant attribute gets a line of text, not a chart
        name: plots.attribute_png(name, hist)
        for name, hist in stats.get("attributes", {}).items()
        if hist["min"] != hist["max"]
    }
    pngs.update({_file_name(name): png for name, png in attribute_pngs.items()})
    bodies = {
        "sources": html.sources_section(data),
        "funnel": html.funnel_section(data, pngs["funnel.png"]),
        "attributes": html.attributes_section(stats, attribute_pngs),
        "languages": html.languages_section(stats, pngs.get("languages.png")),
        "mixture": html.mixture_section(
            data,
            {
                "mixture": pngs.get("mixture.png", b""),
                "modalities": pngs.get("modalities.png", b""),
            },
        ),
        "clusters": html.clusters_section(stats, pngs.get("clusters.png")),
    }
    for old in folder.glob("*.png"):  # a re-render must not leave charts of attributes now gone
        old.unlink()
    written = []
    for name, png in sorted(pngs.items()):
        (folder / name).write_bytes(png)
        written.append(folder / name)
    mixture_path = folder / "mixture.json"
    mixture_path.write_text(json.dumps(mixture_json(data), indent=2, sort_keys=True) + "\n")
    html_path = folder / "index.html"
    html_path.write_text(html.render_html(data, bodies), encoding="utf-8")
    return Rendered(folder, html_path, mixture_path, written, render_table(data), data)
