"""Progress while `polymix run` runs: a line every few seconds saying what the pipeline is doing.

Runners differ in what they can tell while they run. Dataflow, Prism, Flink and Spark return
from `pipeline.run()` at once and answer `result.metrics().query()` during the run, so we
print Beam's counters (documents read, tokens, duplicates, ...). The local FnApiRunner behind
`DirectRunner` runs the whole job inside `run()` and only has metrics afterwards; for it,
`LiveCounters` reads the same counters from the runner's finished bundles and the bundle in
flight, and each source gets documents read, documents/s and an ETA:

    progress [    42s] web 12,040 docs 287/s 61% of 1.20GB ETA 00:27 · read to the end: code 3,001 docs

The ETA compares the bytes of the files read to the end with the bytes of every file the
source's globs match (listed once, in the printer's thread, for local runs only); it is
"n/a" until a first file is done or when the sizes cannot be listed. The printer is a
daemon thread that wakes every `interval` seconds, so the job is never slowed.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from polymix.live_counters import LiveCounters

# The FnApiRunner logs "Running bundle for stage %s" here at DEBUG, once per bundle.
BUNDLE_LOGGER = "apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle"
# Beam logs a failing DoFn's traceback here and then raises the same error from `run()`;
# the launcher reports that error (one line where it is the user's to fix), so the log
# copy is muted while the pipeline runs in this process.
FAILURE_LOGGER = "apache_beam.runners.common"
_TRANSFORM = re.compile(r"ref_AppliedPTransform_([A-Za-z0-9]+)")


def stage_labels(stage_name: str) -> list[str]:
    """Top-level transform labels in a fused FnApiRunner stage name, in order, without repeats."""
    labels: list[str] = []
    for label in _TRANSFORM.findall(stage_name):
        if label not in labels:
            labels.append(label)
    return labels or [stage_name[:60]]


def counter_totals(result: Any) -> dict[str, int]:
    """Beam counters summed over steps, keyed `namespace.name` (attempted: live on every runner)."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query().get("counters", []):
        name = f"{counter.key.metric.namespace}.{counter.key.metric.name}"
        value = counter.committed if counter.committed is not None else counter.attempted
        if value is None:
            value = counter.attempted or 0
        totals[name] = totals.get(name, 0) + int(value)
    return dict(sorted(totals.items()))


def format_counters(totals: dict[str, int]) -> str:
    return " · ".join(f"{name} {value:,}" for name, value in totals.items()) or "no counters yet"


PROGRESS_PREFIX = "progress."  # the namespace of `pipelines.read.count_read`, and its dot


def source_figures(counters: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Source -> (documents read, bytes of files read to the end), from the progress counters."""
    figures: dict[str, list[int]] = {}
    for name, value in counters.items():
        if not name.startswith(PROGRESS_PREFIX) or "/" not in name:
            continue
        source, kind = name[len(PROGRESS_PREFIX) :].rsplit("/", 1)
        slot = {"documents": 0, "bytes": 1}.get(kind)
        if slot is not None:
            figures.setdefault(source, [0, 0])[slot] += value
    return {source: (docs, done) for source, (docs, done) in sorted(figures.items())}


def eta(done_bytes: int, total_bytes: int | None, seconds: float) -> str:
    """Time left at the rate so far; "n/a" without a total or before the first file is done."""
    from tqdm import tqdm

    if not total_bytes or done_bytes <= 0 or seconds <= 0:
        return "n/a"
    if done_bytes >= total_bytes:
        return "done"
    return tqdm.format_interval(seconds * (total_bytes - done_bytes) / done_bytes)


def format_sources(
    counters: dict[str, int],
    totals: dict[str, int | None],
    seconds: float | dict[str, float],
) -> str:
    """One `name N docs R/s [P% of SIZE] ETA T` group per source still reading, then the
    sources read to the end with their document counts.

    `seconds`: how long each source has been read (or one figure for all of them).
    """
    from tqdm import tqdm

    groups, finished = [], []
    for source, (docs, done) in source_figures(counters).items():
        total = totals.get(source)
        if total and done >= total:  # its rate would only fall from here on
            finished.append(f"{source} {docs:,}")
            continue
        reading = seconds.get(source, 0.0) if isinstance(seconds, dict) else seconds
        rate = docs / reading if reading > 0 else 0.0
        share = f" {min(done / total, 1):.0%} of {tqdm.format_sizeof(total)}B" if total else ""
        groups.append(
            f"{source} {docs:,} docs {rate:,.0f}/s{share} ETA {eta(done, total, reading)}"
        )
    if finished:
        groups.append(f"read to the end: {', '.join(finished)} docs")
    return " · ".join(groups)


def without_progress(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if not k.startswith(PROGRESS_PREFIX)}


def remote_line(counters: dict[str, int], seconds: float) -> str:
    """A runner's live counters: per-source reading first (no ETA: inputs are not listed)."""
    reading = format_sources(counters, {}, seconds)
    rest = format_counters(without_progress(counters))
    return f"{reading} · {rest}" if reading else rest


def input_bytes(inputs: dict[str, list[str]]) -> dict[str, int | None]:
    """Source -> total bytes of the distinct files its globs match; None where listing fails."""
    from apache_beam.io.filesystems import FileSystems

    totals: dict[str, int | None] = {}
    for source, patterns in inputs.items():
        try:
            sizes = {
                m.path: m.size_in_bytes
                for result in FileSystems.match(list(patterns))
                for m in result.metadata_list
            }
            totals[source] = sum(sizes.values())
        except Exception:  # a listing error is the run's to report, not the progress line's
            totals[source] = None
    return totals


class _BundleListener(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bundles = 0
        self.stage = ""

    def emit(self, record: logging.LogRecord) -> None:
        # Reads the stage name argument only; never formats the (large) message.
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            self.bundles += 1
            self.stage = record.args[0]


class Progress:
    """Context manager printing progress every `interval` seconds until the block ends."""

    def __init__(
        self,
        interval: float = 10.0,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        inputs: dict[str, list[str]] | None = None,
    ) -> None:
        self.interval = interval
        self.inputs = inputs or {}
        self.totals: dict[str, int | None] | None = None
        self.live = LiveCounters(progress_interval=interval)
        self._reading_since: dict[str, float] = {}
        self.out = out or sys.stderr
        self.clock = clock
        self.result: Any = None
        self._listener = _BundleListener()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="polymix-progress", daemon=True)
        self._logger = logging.getLogger(BUNDLE_LOGGER)
        self._saved: tuple[int, bool] = (logging.NOTSET, True)
        self._failures = logging.getLogger(FAILURE_LOGGER)
        self._failures_level = logging.NOTSET
        self.started = 0.0

    def __enter__(self) -> Progress:
        self.started = self.clock()
        self._saved = (self._logger.level, self._logger.propagate)
        self._logger.setLevel(logging.DEBUG)
        self._logger.propagate = False  # the runner's debug chatter stays out of the user's logs
        self._logger.addHandler(self._listener)
        self._failures_level = self._failures.level
        self._failures.setLevel(logging.CRITICAL)
        self.live.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.live.__exit__(*exc_info)
        self._logger.removeHandler(self._listener)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]
        self._failures.setLevel(self._failures_level)

    def attach(self, result: Any) -> None:
        """Poll this PipelineResult's counters from now on (useful when `run()` returned early)."""
        self.result = result

    def line(self) -> str:
        seconds = self.clock() - self.started
        elapsed = f"[{seconds:6.0f}s]"
        if self.result is not None:
            try:
                return f"progress {elapsed} {remote_line(counter_totals(self.result), seconds)}"
            except Exception as exc:  # a runner without live metrics must not stop the job
                return f"progress {elapsed} running (metrics unavailable: {exc})"
        if not self._listener.bundles:
            return f"progress {elapsed} starting"
        if self.totals is None:  # listed once, here in the printer's thread
            self.totals = input_bytes(self.inputs)
        counters = self.live.snapshot()
        now = self.clock()
        for source in source_figures(counters):  # rates count from a source's first document
            self._reading_since.setdefault(source, max(self.started, now - self.interval))
        since = {source: now - start for source, start in self._reading_since.items()}
        reading = format_sources(counters, self.totals, since)
        running = ", ".join(stage_labels(self._listener.stage))
        return f"progress {elapsed} {reading or 'no documents read yet'} · running {running}"

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), file=self.out, flush=True)


def run_with_progress(
    pipeline: Any,
    interval: float = 10.0,
    out: TextIO | None = None,
    inputs: dict[str, list[str]] | None = None,
) -> Any:
    """`pipeline.run().wait_until_finish()` with progress lines, then one line of final counters.

    Replaces `with beam.Pipeline(options) as p: ...` (which runs on exit) in `polymix run`.
    `inputs` (source -> globs) give the ETA its total.
    """
    out = out or sys.stderr
    with Progress(interval, out, inputs=inputs) as progress:
        result = pipeline.run()
        progress.attach(result)
        result.wait_until_finish()
        elapsed = progress.clock() - progress.started
    try:
        counters = format_counters(without_progress(counter_totals(result)))
    except Exception:  # a summary line is not worth failing a finished run
        counters = "counters unavailable"
    print(f"pipeline finished in {elapsed:.1f}s: {counters}", file=out, flush=True)
    return result
