"""The report: its numbers are the manifest's, its page has every section and renders offline."""

import base64
import io
import json
import logging
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from polymix.cli import main
from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import Manifest, SourceTotals
from polymix.pipelines.statistics import _RecordLengthsFn, _RunStatsFn, assemble_stats
from polymix.progress import BUNDLE_LOGGER, Progress, run_with_progress
from polymix.report import render_report
from polymix.report.compare import counts_rows, load_comparison
from polymix.report.html import SECTIONS

SOURCES = {
    "web": SourceTotals(
        modality="text",
        weight=0.6,
        input=1000,
        kept=700,
        records=800,
        tokens=400_000,
        eval_records=4,
        eval_tokens=2_048,
        duplicates={"exact_dedup": 100, "near_dedup": 50},
        rejected={"read": {"invalid_json": 3}, "language": {"other_language": 147}},
    ),
    "books": SourceTotals(
        modality="text",
        weight=0.3,
        input=20,
        kept=19,
        records=90,
        tokens=30_000,
        duplicates={"exact_dedup": 1},
    ),
    "photos": SourceTotals(
        modality="image",
        weight=0.1,
        input=60,
        kept=50,
        records=50,
        tokens=12_800,
        rejected={"read": {"undecodable_image": 10}},
    ),
}


def _stats() -> dict:
    fn = _RunStatsFn()
    acc = fn.create_accumulator()
    for i in range(40):
        lang = {"lang": "en" if i % 4 else "de", "score": 0.5 + i / 100}
        bucket, stage = ("rejected", "language") if i % 4 == 0 else ("kept", None)
        attributes = {"language": lang, "gopher_quality": {"n_words": 10 * i + 5}}
        fn.add_input(acc, (bucket, "web", stage, attributes))
    cuts = {
        "language.score": [{"key": "filters.language.min_score", "value": 0.65, "keep": "above"}],
        "gopher_quality.n_words": [
            {"key": "filters.gopher_quality.min_words", "value": 50.0, "keep": "above"}
        ],
    }
    clusters = {"exact_dedup": {2: 80, 3: 10}, "near_dedup": {2: 40, 4: 3}}
    stages = ["read", "exact_dedup", "near_dedup", "language"]
    lengths = _RecordLengthsFn()
    records = lengths.create_accumulator()
    for i in range(800):
        lengths.add_input(records, ("web", 512 if i % 4 == 0 else 20 + i % 300))
    for _ in range(50):
        lengths.add_input(records, ("photos", 256))
    return assemble_stats(acc, clusters, cuts, stages) | {
        "record_positions": lengths.extract_output(records)
    }


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path)


def write_run(folder: Path) -> Path:
    """A run's output as the report reads it: manifest.json and stats.json, nothing else."""
    manifest = Manifest(
        polymix_version="0.1.0",
        config_hash="ab" * 32,
        max_seq_len=512,
        sources=SOURCES,
        mixture={"books": 0.3, "photos": 0.1, "web": 0.6},
        warnings=["source web: pattern x/*.jsonl matches no file"],
    )
    (folder / "manifest.json").write_text(manifest.to_json())
    (folder / "stats.json").write_text(json.dumps(_stats()))
    return folder


def test_report_numbers_equal_the_manifest(run_dir):
    rendered = render_report(run_dir)
    rows = {row.name: row for row in rendered.data.rows}
    for name, totals in SOURCES.items():
        row = rows[name]
        assert (row.input, row.kept, row.records, row.tokens) == (
            totals.input,
            totals.kept,
            totals.records,
            totals.tokens,
        )
        assert row.duplicates == totals.duplicates_total
        assert row.rejected_by_stage == totals.rejected
        assert (row.eval_records, row.eval_tokens) == (totals.eval_records, totals.eval_tokens)
    assert rendered.data.funnel[-1].remaining == sum(t.kept for t in SOURCES.values())
    assert [s.stage for s in rendered.data.funnel] == [
        "read",
        "exact_dedup",
        "near_dedup",
        "language",
    ]
    mixture = json.loads(rendered.mixture.read_text())
    plan = mixture["plan"]
    assert mixture["manifest_mixture"] == {"books": 0.3, "photos": 0.1, "web": 0.6}
    assert plan["budget"] == 400_000 + 30_000 + 12_800
    assert sum(s["planned_weight"] for s in plan["sources"].values()) == pytest.approx(1)
    assert plan["sources"]["books"]["available"] == 30_000
    assert plan["position_kinds"]["image"]["available"] == pytest.approx(12_800 / plan["budget"])
    line = next(x for x in rendered.table.splitlines() if x.startswith("web"))
    assert line.split()[:7] == ["web", "1,000", "700", "150", "150", "400,000", "2,048"]
    assert "rejected at language: other_language 147" in rendered.table


def test_the_source_table_shows_the_training_and_held_out_split(run_dir):
    page = render_report(run_dir).html.read_text()
    sources = page[page.index('<section id="sources">') :]
    columns = ("train records", "train positions (all kinds)", "text tokens")
    for column in (*columns, "held-out records", "held-out positions"):
        assert f"<th>{column}</th>" in sources, column
    row = sources[sources.index("<td>web</td>") :].split("</tr>")[0]
    assert "<td class=n>800</td><td class=n>400,000</td>" in row
    assert "<td class=n>4</td><td class=n>2,048</td>" in row


def test_html_holds_every_section_with_inline_images_only(run_dir):
    rendered = render_report(run_dir)
    page = rendered.html.read_text()
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    sources = ["web", "books", "photos"]
    assert all(f"<td>{s}</td>" for s in sources)
    assert "<td class=n>1,000</td>" in page and "<td class=n>147</td>" in page
    assert (
        "<td>duplicate 100, near_dedup</td>" not in page and "<td>other_language 147</td>" in page
    )
    assert "filters.language.min_score = 0.65 (keep above)" in page
    lengths = re.search(r'<section id="lengths">(.*?)</section>', page).group(1)
    assert "<td>web</td><td class=n>800</td><td class=n>21</td>" in lengths
    assert "<td>25.0% (501 to 512)</td>" in lengths and "<td>photos</td>" in lengths
    header = re.search(r"<table><tr>(.*?)</tr>", page).group(1)
    assert (
        "<th>train positions (all kinds)</th><th>text tokens</th><th>image patches</th>" in header
    )
    assert "<th>tokens</th>" not in page
    images = re.findall(r'<img alt="([^"]*)" src="([^"]*)"', page)
    assert {alt for alt, _ in images} >= {
        "funnel",
        "mixture per source",
        "mixture per modality",
        "languages",
        "duplicate clusters",
        "language.score",
        "gopher_quality.n_words",
        "record lengths",
    }
    for _, src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=\"?(https?:|//|file:)", page)
    on_disk = sorted(p.name for p in rendered.folder.glob("*.png"))
    assert "attr_language.score.png" in on_disk and "funnel.png" in on_disk


def test_replanning_with_an_infeasible_budget_reports_the_error(run_dir, capsys):
    too_big = MixtureConfig(budget_tokens=10**9, max_epochs=2)
    rendered = render_report(run_dir, too_big)
    assert rendered.data.plan is None
    assert "more than the sources can give" in rendered.html.read_text()
    assert json.loads(rendered.mixture.read_text())["error"].startswith("a budget of")
    assert main(["report", str(run_dir), "--budget", "1e9"]) == 1
    assert main(["report", str(run_dir), "--budget", "1e5"]) == 0
    out = capsys.readouterr().out
    assert "budget 100,000 positions (mixture.budget_tokens)" in out
    replanned = json.loads((run_dir / "report-budget-100000.mixture.json").read_text())
    assert replanned["plan"]["budget"] == 100_000 and replanned["origin"] == "report"


def test_replanning_writes_its_own_page_and_leaves_the_runs_report_alone(run_dir, tmp_path):
    render_report(run_dir)
    before = {p.name: p.read_bytes() for p in (run_dir / "report").iterdir()}
    assert main(["report", str(run_dir), "--budget", "1e5", "--max-epochs", "3"]) == 0
    page = (run_dir / "report-budget-100000-max-epochs-3.html").read_text()
    assert "Budget 100,000 positions (mixture.budget_tokens); planned by this report" in page
    plan = json.loads((run_dir / "report-budget-100000-max-epochs-3.mixture.json").read_text())
    assert plan["plan"]["budget"] == 100_000
    assert {s["max_epochs"] for s in plan["plan"]["sources"].values()} == {3}
    elsewhere = tmp_path / "elsewhere" / "plan.html"
    assert main(["report", str(run_dir), "--max-epochs", "2", "--output", str(elsewhere)]) == 0
    assert "planned by this report" in elsewhere.read_text()
    assert (tmp_path / "elsewhere" / "plan.mixture.json").is_file()
    assert {p.name: p.read_bytes() for p in (run_dir / "report").iterdir()} == before


def test_a_published_run_is_reported_from_the_slot_its_manifest_names(run_dir):
    (run_dir / "data-a").mkdir()
    (run_dir / "stats.json").rename(run_dir / "data-a" / "stats.json")
    top = json.loads((run_dir / "manifest.json").read_text()) | {"data": "data-a"}
    (run_dir / "manifest.json").write_text(json.dumps(top))
    rendered = render_report(run_dir)
    assert rendered.data.stats == json.loads((run_dir / "data-a" / "stats.json").read_text())
    assert rendered.html == run_dir / "report" / "index.html"


def test_a_run_without_statistics_still_renders_every_section(run_dir):
    (run_dir / "stats.json").unlink()
    page = render_report(run_dir).html.read_text()
    assert all(f'<section id="{key}">' in page for key in SECTIONS)
    assert "No numeric attributes were recorded" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Injected into a copy of the page: errors are caught from the first line on, and after load
# every <img> must have decoded (naturalWidth > 0).
PROBE_HEAD = "<script>window.__errors=[];window.onerror=function(m){window.__errors.push(String(m))};</script>"
PROBE_TAIL = """<script>window.addEventListener('load',function(){
var imgs=[].slice.call(document.images);var bad=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)});
var p=document.createElement('pre');p.id='probe';
p.textContent=JSON.stringify({images:imgs.length,broken:bad.length,errors:window.__errors,
sections:[].slice.call(document.querySelectorAll('section')).map(function(s){return s.id})});
document.body.appendChild(p);});</script>"""


def _probe_in_chromium(page: str, folder: Path) -> dict:
    """What headless Chromium saw once `page` loaded: images, broken ones, errors, sections."""
    probe = folder / "probe.html"
    probe.write_text(
        page.replace("<head>", "<head>" + PROBE_HEAD).replace("</body>", PROBE_TAIL + "</body>")
    )
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={folder / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout)
    assert found, f"no probe output; chromium said: {result.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"'))


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


@needs_chromium
def test_the_page_renders_in_headless_chromium_with_every_image_loaded(run_dir, tmp_path):
    outcome = _probe_in_chromium(render_report(run_dir).html.read_text(), tmp_path)
    assert outcome["errors"] == [] and outcome["broken"] == 0
    assert outcome["images"] >= 8
    assert outcome["sections"] == list(SECTIONS)


@needs_chromium
def test_the_comparison_renders_in_headless_chromium_with_every_image_loaded(run_dir, tmp_path):
    page = tmp_path / "c.html"
    assert main(["report", str(run_dir), "--compare", str(run_dir), "--output", str(page)]) == 0
    outcome = _probe_in_chromium(page.read_text(), tmp_path)
    assert outcome["errors"] == [] and outcome["broken"] == 0
    assert outcome["images"] >= 3


class _FakeResult:
    """A runner that returns from run() at once and has live counters (like Dataflow)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def metrics(self):
        from types import SimpleNamespace as NS

        counter = NS(key=NS(metric=NS(namespace="read", name="examples")), committed=7, attempted=7)
        return NS(query=lambda: {"counters": [counter, counter]})

    def wait_until_finish(self) -> None:
        time.sleep(self.seconds)


def test_progress_prints_live_counters_while_an_async_runner_runs():
    out = io.StringIO()
    pipeline = SimpleNamespace(run=lambda: _FakeResult(0.35))
    run_with_progress(pipeline, interval=0.1, out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and "read.examples 14" in lines[0]
    assert lines[-1].startswith("pipeline finished in") and lines[-1].endswith("read.examples 14")


def test_progress_names_the_transforms_the_local_runner_is_executing():
    logger = logging.getLogger(BUNDLE_LOGGER)
    before = (logger.level, logger.propagate)
    stage = "((ref_AppliedPTransform_Normalize-Map_3)+(ref_AppliedPTransform_ExactDedup-Group_9))"
    with Progress(interval=60, out=io.StringIO()) as progress:
        assert progress.line().endswith("starting")
        logger.debug(
            "Running bundle for stage %s\n\tExpected outputs: %s timers: %s", stage, {}, {}
        )
        assert progress.line().endswith("no documents read yet · running Normalize, ExactDedup")
    assert (logger.level, logger.propagate) == before


def test_a_plan_stored_in_the_manifest_is_shown_as_is_unless_re_planned():
    from polymix.report.data import plan_for

    stored = {"budget": 5, "budget_from": "config", "sources": {}, "warnings": []}
    manifest = SimpleNamespace(plan=stored, sources=SOURCES)
    assert plan_for(manifest, None) == (stored, "manifest", None)
    plan, origin, error = plan_for(manifest, MixtureConfig(budget_tokens=1000))
    assert origin == "report" and plan["budget"] == 1000 and error is None


def test_compare_puts_two_runs_side_by_side_in_a_page_of_its_own(run_dir, tmp_path):
    other = tmp_path / "runs" / "strict"
    other.mkdir(parents=True)
    web = SOURCES["web"].model_copy(
        update={
            "kept": 600,
            "rejected": {"read": {"invalid_json": 3}, "language": {"other_language": 247}},
        }
    )
    manifest = Manifest.model_validate_json((run_dir / "manifest.json").read_text())
    sources = {"web": web, "books": SOURCES["books"], "audio": SOURCES["photos"]}
    (other / "manifest.json").write_text(manifest.model_copy(update={"sources": sources}).to_json())
    stats = _stats()
    stats["attributes"]["gopher_quality.n_words"]["mean"] = 123.0
    (other / "stats.json").write_text(json.dumps(stats))
    assert main(["report", str(run_dir), "--compare", str(other)]) == 0
    page = (run_dir / "compare-strict.html").read_text()
    assert not (run_dir / "report").exists() and not (other / "report").exists()
    cells = counts_rows(load_comparison(run_dir, other))
    assert ("web", "kept", 700, 600, "0.857×") in cells
    assert ("web", "kept / input", "0.7000", "0.6000", "0.857×") in cells
    assert ("web", "positions (all kinds)", 400_000, 400_000, "1×") in cells
    assert ("photos", "input", 60, "-", "-") in cells and ("audio", "input", "-", 60, "-") in cells
    assert "<td class='n changed'>700 → 600<br><small>0.857×</small></td>" in page
    assert "<td>language</td><td>other_language</td><td class='n changed'>147 → 247" in page
    assert "<td>exact_dedup</td><td>duplicate</td><td class=n>101</td>" in page
    assert "A: " + run_dir.name in page and "B: strict" in page
    assert "mean 123" in page and len(re.findall(r"<img ", page)) >= 3
    elsewhere = tmp_path / "cmp.html"
    assert main(["report", str(run_dir), "--compare", str(other), "--output", str(elsewhere)]) == 0
    assert elsewhere.read_text() == page
    assert main(["report", str(run_dir), "--compare", str(other), "--budget", "1e5"]) == 2
