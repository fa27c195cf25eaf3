"""Write `OUT/report/`: index.html, mixture.json and every chart as its own PNG.

The report is rendered in memory, written into `OUT/.polymix-staging/report-<id>/new/`
and swapped in whole, so a full disk or a crash leaves the previous report (or none),
never a truncated chart. A run stages its report before it publishes (a report that
does not fit stops the run while the previous one is still live) and swaps it in right
after; `polymix report` does both at once. A gs:// output is read and written through
Beam's FileSystems the same way.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from polymix.core.config.mixture import MixtureConfig
from polymix.report import html, plots
from polymix.report.data import ReportData, load_report_data, mixture_json
from polymix.report.examples import run_samples
from polymix.report.examples_html import examples_section
from polymix.report.lengths_html import lengths_section
from polymix.report.table import render_table

REPORT_DIR = "report"
STAGING = ".polymix-staging"  # shared with polymix.run_output, which cleans what a crash leaves


@dataclass(frozen=True)
class Rendered:
    folder: Path | str
    html: Path | str
    mixture: Path | str
    pngs: list[Path | str]
    table: str
    data: ReportData


def _file_name(attribute: str) -> str:
    return "attr_" + re.sub(r"[^A-Za-z0-9_.-]", "_", attribute) + ".png"


def _attribute_by_source_pngs(stats: dict) -> dict[str, bytes]:
    """A per-source chart for each attribute with a cut that two or more sources carry."""
    by_source = stats.get("attributes_by_source") or {}
    out = {}
    for name, hist in (stats.get("attributes") or {}).items():
        carried = {s: h[name] for s, h in by_source.items() if name in h}
        if hist["cuts"] and hist["min"] != hist["max"] and len(carried) >= 2:
            out[name] = plots.attribute_by_source_png(name, carried, hist["cuts"])
    return out


def report_files(data: ReportData) -> dict[str, bytes]:
    """Every file of the report by name: charts, mixture.json, index.html."""
    stats = data.stats or {}
    pngs: dict[str, bytes] = {"funnel.png": plots.funnel_png(data.input_total, data.funnel)}
    if data.plan is not None:
        pngs["mixture.png"] = plots.mixture_png(data.plan)
        pngs["modalities.png"] = plots.modality_png(data.plan)
    if stats.get("languages"):
        pngs["languages.png"] = plots.languages_png(stats["languages"])
    if stats.get("clusters"):
        pngs["clusters.png"] = plots.clusters_png(stats["clusters"])
    if stats.get("record_positions"):
        pngs["record_lengths.png"] = plots.record_lengths_png(stats["record_positions"])
    if stats.get("domains"):
        pngs["domains.png"] = plots.domains_png(stats["domains"])
    attribute_pngs = {  # a constant attribute gets a line of text, not a chart
        name: plots.attribute_png(name, hist)
        for name, hist in stats.get("attributes", {}).items()
        if hist["min"] != hist["max"]
    }
    pngs.update({_file_name(name): png for name, png in attribute_pngs.items()})
    source_pngs = _attribute_by_source_pngs(stats)
    pngs.update({_file_name(f"by_source.{name}"): png for name, png in source_pngs.items()})
    bodies = {
        "sources": html.sources_section(data),
        "funnel": html.funnel_section(data, pngs["funnel.png"]),
        "examples": examples_section(
            run_samples(data.manifest), [step.stage for step in data.funnel]
        ),
        "attributes": html.attributes_section(stats, attribute_pngs, source_pngs),
        "languages": html.languages_section(stats, pngs.get("languages.png")),
        "lengths": lengths_section(
            stats, pngs.get("record_lengths.png"), data.manifest.max_seq_len
        ),
        "mixture": html.mixture_section(
            data,
            {
                "mixture": pngs.get("mixture.png", b""),
                "modalities": pngs.get("modalities.png", b""),
            },
        ),
        "clusters": html.clusters_section(stats, pngs.get("clusters.png")),
        "domains": html.domains_section(stats, pngs.get("domains.png")),
    }
    files = dict(sorted(pngs.items()))
    files["mixture.json"] = (
        json.dumps(mixture_json(data), indent=2, sort_keys=True) + "\n"
    ).encode("utf-8")
    files["index.html"] = html.render_html(data, bodies).encode("utf-8")
    return files


def stage_report(output: str, files: dict[str, bytes], folder: str) -> None:
    """Write `files` into `folder/new`, beside the report; nothing of the report changes yet."""
    from polymix.pipelines.file_io import StorageFull, is_disk_full, write_bytes
    from polymix.pipelines.object_store import child, delete_tree

    try:
        for name, data in files.items():
            write_bytes(child(child(folder, "new"), name), data)
    except OSError as exc:
        _forget(folder, delete_tree)
        if is_disk_full(exc):
            raise StorageFull(
                f"no space left on the device while writing the report {child(output, REPORT_DIR)}; "
                "the previous report (if any) is kept"
            ) from None
        raise


def swap_staged_report(output: str, folder: str) -> None:
    """Put the report staged in `folder` in the report's place: ~30 moves, the old one last gone."""
    from polymix.pipelines.object_store import child, delete_tree, has_any, move_tree

    target = child(output, REPORT_DIR)
    if has_any(target):
        move_tree(target, child(folder, "old"))
    move_tree(child(folder, "new"), target)
    _forget(folder, delete_tree)


def _swap_in(output: str, files: dict[str, bytes]) -> None:
    """Write `files` into a fresh folder beside the report, then put it in the report's place."""
    from polymix.pipelines.object_store import child, delete_tree

    folder = child(child(output, STAGING), f"report-{uuid.uuid4().hex[:16]}")
    stage_report(output, files, folder)
    try:
        swap_staged_report(output, folder)
    except OSError:
        _forget(folder, delete_tree)
        raise


def _forget(folder: str, delete_tree) -> None:
    from polymix.pipelines.object_store import prune_empty_folder

    with contextlib.suppress(OSError):
        delete_tree(folder)
        prune_empty_folder(folder.rsplit("/", 1)[0])


def render_files(
    output: str | Path, replan: MixtureConfig | None = None, *, shown_as: str | None = None
) -> tuple[dict[str, bytes], ReportData]:
    """The report's files of the run in `output`, in memory (~1.2 MB for the demo run)."""
    root = str(output).rstrip("/") if "://" in str(output) else str(Path(output))
    data = load_report_data(root, replan)
    data.output = Path((shown_as or root).rstrip("/"))
    return report_files(data), data


def render_report(
    output: str | Path, replan: MixtureConfig | None = None, *, shown_as: str | None = None
) -> Rendered:
    """Render the report of the run in `output`; `replan` re-plans the mixture with other settings.

    `shown_as` names the run in the page when `output` is a folder that is published
    under another name, so the page does not depend on where it was rendered.
    """
    root = str(output).rstrip("/") if "://" in str(output) else str(Path(output))
    files, data = render_files(root, replan, shown_as=shown_as)
    _swap_in(root, files)
    return rendered_at(root, files, data)


def rendered_at(root: str, files: dict[str, bytes], data: ReportData) -> Rendered:
    """Where the report's files are once they are in `root/report/`."""
    folder: Path | str = f"{root}/{REPORT_DIR}" if "://" in root else Path(root) / REPORT_DIR
    place = (lambda name: f"{folder}/{name}") if isinstance(folder, str) else folder.joinpath
    pngs = [place(name) for name in files if name.endswith(".png")]
    return Rendered(
        folder, place("index.html"), place("mixture.json"), pngs, render_table(data), data
    )
