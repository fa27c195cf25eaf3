"""Progress while `polymix run` runs: a line every few seconds saying what the pipeline is doing.

Runners differ in what they can tell while they run. Dataflow, Prism, Flink and Spark return
from `pipeline.run()` at once and answer `result.metrics().query()` during the run, so we
print Beam's counters (documents read, tokens, duplicates, ...). The local FnApiRunner behind
`DirectRunner` runs the whole job inside `run()` and only has metrics afterwards; for it we
listen to the runner's own per-bundle log records and print which transforms are executing
and how many bundles have run. Either way the job is never slowed: the printer is a daemon
thread that wakes every `interval` seconds.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

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
    ) -> None:
        self.interval = interval
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
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._logger.removeHandler(self._listener)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]
        self._failures.setLevel(self._failures_level)

    def attach(self, result: Any) -> None:
        """Poll this PipelineResult's counters from now on (useful when `run()` returned early)."""
        self.result = result

    def line(self) -> str:
        elapsed = f"[{self.clock() - self.started:6.0f}s]"
        if self.result is not None:
            try:
                return f"progress {elapsed} {format_counters(counter_totals(self.result))}"
            except Exception as exc:  # a runner without live metrics must not stop the job
                return f"progress {elapsed} running (metrics unavailable: {exc})"
        if self._listener.bundles:
            running = ", ".join(stage_labels(self._listener.stage))
            return f"progress {elapsed} bundle {self._listener.bundles:,}, running {running}"
        return f"progress {elapsed} starting"

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), file=self.out, flush=True)


def run_with_progress(pipeline: Any, interval: float = 10.0, out: TextIO | None = None) -> Any:
    """`pipeline.run().wait_until_finish()` with progress lines, then one line of final counters.

    Replaces `with beam.Pipeline(options) as p: ...` (which runs on exit) in `polymix run`.
    """
    out = out or sys.stderr
    with Progress(interval, out) as progress:
        result = pipeline.run()
        progress.attach(result)
        result.wait_until_finish()
        elapsed = progress.clock() - progress.started
    try:
        counters = format_counters(counter_totals(result))
    except Exception:  # a summary line is not worth failing a finished run
        counters = "counters unavailable"
    print(f"pipeline finished in {elapsed:.1f}s: {counters}", file=out, flush=True)
    return result
