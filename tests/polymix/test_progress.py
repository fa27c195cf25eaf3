"""Local progress: documents, documents/s and an ETA per source, from Beam's own counters.

The counters are the ones the pipeline's readers increment, read from the FnApiRunner while
the job runs; the corpus is the standard library's module docstrings (prose nobody here
wrote), one JSON line each.
"""

from __future__ import annotations

import io
import json
import sys
import threading

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from polymix.core.config import SourceConfig
from polymix.live_counters import LiveCounters
from polymix.pipelines.read import ReadTextSource
from polymix.progress import (
    Progress,
    counter_totals,
    eta,
    format_sources,
    input_bytes,
    run_with_progress,
    source_figures,
)


def test_each_source_gets_documents_rate_share_and_eta():
    counters = {
        "progress.web/documents": 1200,
        "progress.web/bytes": 500,
        "progress.code/documents": 10,
        "read.examples": 1210,
    }
    line = format_sources(counters, {"web": 1000, "code": None}, seconds=10.0)
    assert line == "code 10 docs 1/s ETA n/a · web 1,200 docs 120/s 50% of 1.00kB ETA 00:10"
    # Each source's rate and ETA count from when it started reading.
    line = format_sources(counters, {"web": 1000}, {"web": 20.0, "code": 2.0})
    assert line == "code 10 docs 5/s ETA n/a · web 1,200 docs 60/s 50% of 1.00kB ETA 00:20"
    finished = {**counters, "progress.web/bytes": 1000}
    line = format_sources(finished, {"web": 1000}, 10.0)
    assert line == "code 10 docs 1/s ETA n/a · read to the end: web 1,200 docs"


def test_eta_needs_a_total_and_a_finished_file():
    assert eta(0, 1000, 5.0) == "n/a"  # nothing read to the end yet
    assert eta(10, None, 5.0) == "n/a"  # the inputs could not be listed
    assert eta(250, 1000, 60.0) == "03:00"
    assert eta(1000, 1000, 60.0) == "done"


def _corpus(tmp_path, files: int = 3) -> list[str]:
    modules = [m for m in sys.modules.values() if (getattr(m, "__doc__", None) or "").strip()]
    docs = sorted({m.__doc__ for m in modules if isinstance(m.__doc__, str)})[:300]
    for k in range(files):
        lines = [json.dumps({"id": str(i), "text": d}) for i, d in enumerate(docs[k::files])]
        (tmp_path / f"part-{k}.jsonl").write_text("\n".join(lines) + "\n")
    return docs


def _read_pipeline(tmp_path) -> beam.Pipeline:
    source = SourceConfig(name="docs", modality="text", paths=["*.jsonl"], format="jsonl")
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))
    pattern = [str(tmp_path / "*.jsonl")]
    _ = pipeline | ReadTextSource(source, pattern)
    return pipeline


def test_the_numbers_are_the_readers_counters(tmp_path):
    docs = _corpus(tmp_path)
    out = io.StringIO()
    inputs = {"docs": [str(tmp_path / "*.jsonl")]}
    with Progress(interval=3600, out=out, inputs=inputs) as progress:
        result = _read_pipeline(tmp_path).run()
        result.wait_until_finish()
        live = progress.live.snapshot()
        line = progress.line()
    final = counter_totals(result)
    size = sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))
    assert source_figures(live) == source_figures(final) == {"docs": (len(docs), size)}
    assert input_bytes(inputs) == {"docs": size}
    assert f"read to the end: docs {len(docs):,} docs" in line


class _Gate(beam.DoFn):
    """Counts each element, and holds the bundle at element `hold` until the test has looked."""

    reached = threading.Event()
    release = threading.Event()

    def __init__(self, hold: int) -> None:
        self.hold = hold

    def process(self, element: int):
        beam.metrics.Metrics.counter("progress", "gated/documents").inc()
        if element == self.hold:
            _Gate.reached.set()
            _Gate.release.wait(60)
        yield element


def test_a_bundle_in_flight_is_counted_while_it_runs():
    """The FnApiRunner has no metrics until the job ends; the live view has them mid-bundle."""
    _Gate.reached.clear()
    _Gate.release.clear()
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))
    _ = pipeline | beam.Create(list(range(100))) | beam.ParDo(_Gate(hold=41))
    seen: dict[str, int] = {}
    with LiveCounters() as live:
        runner = threading.Thread(target=lambda: pipeline.run().wait_until_finish())
        runner.start()
        assert _Gate.reached.wait(120), "the pipeline never reached the gate"
        seen = live.snapshot()
        _Gate.release.set()
        runner.join(120)
        after = live.snapshot()
    assert seen.get("progress.gated/documents") == 42  # elements 0..41, in one bundle
    assert after.get("progress.gated/documents") == 100


@pytest.mark.slow
def test_a_run_prints_per_source_lines(tmp_path):
    _corpus(tmp_path)
    out = io.StringIO()
    run_with_progress(_read_pipeline(tmp_path), interval=0.01, out=out, inputs={})
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("pipeline finished in ") and "progress." not in lines[-1]


class _FileGate(beam.DoFn):
    """`_Gate` across processes: files say "reached" and "release"."""

    def __init__(self, folder: str, hold: int) -> None:
        self.folder, self.hold = folder, hold

    def process(self, element: int):
        import os
        import time

        beam.metrics.Metrics.counter("progress", "gated/documents").inc()
        if element == self.hold:
            open(os.path.join(self.folder, "reached"), "w").close()
            for _ in range(600):  # at most 60 s, then the job goes on and the test fails
                if os.path.exists(os.path.join(self.folder, "release")):
                    break
                time.sleep(0.1)
        yield element


def _poll(condition, attempts: int = 600) -> bool:
    import time

    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_workers_in_other_processes_are_counted_while_they_run(tmp_path):
    """`--direct_running_mode=multi_processing`: bundles run in SDK worker processes, whose
    progress responses bring the bundle in flight (the runner splits the 100 elements among
    parallel bundles, so the held one has counted only its own part); finished bundles add
    up to the final."""
    flags = ["--runner=DirectRunner", "--direct_num_workers=2"]
    flags += ["--direct_running_mode=multi_processing"]
    pipeline = beam.Pipeline(options=PipelineOptions(flags))
    _ = pipeline | beam.Create(list(range(100))) | beam.ParDo(_FileGate(str(tmp_path), 41))
    with LiveCounters(progress_interval=0.2) as live:
        outcome: dict = {}
        runner = threading.Thread(target=lambda: outcome.update(r=pipeline.run()))
        runner.start()
        assert _poll((tmp_path / "reached").exists), "the pipeline never reached the gate"
        in_flight = _poll(lambda: live.snapshot().get("progress.gated/documents", 0) > 0)
        (tmp_path / "release").touch()
        runner.join(120)
        outcome["r"].wait_until_finish()
        after = live.snapshot()
    assert in_flight, live.snapshot()
    assert after.get("progress.gated/documents") == 100
    assert counter_totals(outcome["r"]).get("progress.gated/documents") == 100
