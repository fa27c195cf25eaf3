"""Pages written beside a run's report, never over it: a re-planned report, a comparison.

`OUT/report/` is the run's own record of what it kept; asking "what if the budget were
2e9" or "how does this run differ from that one" must not replace it. Each such page is
one self-contained HTML file (its charts inline), written atomically under a name that
says what it shows, in the run's folder unless `--output` names another place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from polymix.core.config.mixture import MixtureConfig
from polymix.report.compare import Compared, compare_html, load_comparison
from polymix.report.data import mixture_json
from polymix.report.render import Rendered, render_files
from polymix.report.table import render_table


def _number(value: float) -> str:
    return f"{value:g}".replace("+", "")


def replanned_name(budget: float | None, max_epochs: float | None) -> str:
    """`report-budget-2e09-max-epochs-4.html`: the settings that differ from the run's."""
    parts = ["report"]
    if budget is not None:
        parts.append(f"budget-{int(budget)}")
    if max_epochs is not None:
        parts.append(f"max-epochs-{_number(max_epochs)}")
    if len(parts) == 1:
        parts.append("replanned")
    return "-".join(parts) + ".html"


def compare_name(other: str) -> str:
    """`compare-<the other run's folder name>.html`, with only safe characters in the name."""
    name = str(other).rstrip("/").rsplit("/", 1)[-1] or "other"
    return "compare-" + re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".html"


def beside(output: str, name: str) -> str:
    return f"{output.rstrip('/')}/{name}" if "://" in output else str(Path(output) / name)


def write_page(files: dict[str, bytes]) -> None:
    """Write every (path, bytes), each atomically; on a full disk none of them stays."""
    from polymix.pipelines.file_io import StorageFull, is_disk_full, write_bytes
    from polymix.pipelines.object_store import delete_file

    written = []
    try:
        for path, data in files.items():
            write_bytes(path, data)
            written.append(path)
    except OSError as exc:
        for path in written:
            delete_file(path)
        if is_disk_full(exc):
            raise StorageFull(
                f"no space left on the device while writing {', '.join(files)}; "
                "the run's own report is unchanged"
            ) from None
        raise


def render_replanned(output: str, replan: MixtureConfig | None, target: str) -> Rendered:
    """The report with the mixture re-planned, as `target` and its plan as `<target>.json`."""
    files, data = render_files(output, replan)
    plan_path = re.sub(r"\.html?$", "", target) + ".mixture.json"
    plan = (json.dumps(mixture_json(data), indent=2, sort_keys=True) + "\n").encode("utf-8")
    write_page({plan_path: plan, target: files["index.html"]})
    folder = target.rsplit("/", 1)[0] if "://" in target else Path(target).parent
    html = target if "://" in target else Path(target)
    mixture = plan_path if "://" in plan_path else Path(plan_path)
    return Rendered(folder, html, mixture, [], render_table(data), data)


def render_comparison(output: str, other: str, target: str) -> Compared:
    """`output` beside `other` as one page at `target`; neither run's report changes."""
    compared = load_comparison(output, other)
    write_page({target: compare_html(compared).encode("utf-8")})
    return compared
