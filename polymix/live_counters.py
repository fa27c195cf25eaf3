"""Beam's counters while the local runner runs, read from the runner itself.

`DirectRunner` hands a batch job to the FnApiRunner, which runs every bundle inside
`pipeline.run()` and publishes metrics only when the whole job is done. Its bundle results
carry each finished bundle's counters, and the bundle processors it runs in this process
(the default `in_memory` mode) answer for the bundle in flight, which is what an SDK
worker's progress report reads. Between them, the counters of a running job: finished
bundles summed, plus the one running now. For workers in other processes
(`--direct_running_mode=multi_processing`), the runner's own progress requests bring the
in-flight part; we only ask it to make them and keep the latest answer.

The hooks are installed for the duration of a `with LiveCounters():` block and removed
after it; they only read, so the job's outputs cannot change.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any


def counter_sums(infos: Iterable[Any]) -> dict[str, int]:
    """User counters in MonitoringInfos, summed over steps, keyed `namespace.name`."""
    from apache_beam.runners.portability.portable_metrics import from_monitoring_infos

    counters = from_monitoring_infos(list(infos), user_metrics_only=True)[0]
    totals: dict[str, int] = {}
    for key, value in counters.items():
        name = f"{key.metric.namespace}.{key.metric.name}"
        totals[name] = totals.get(name, 0) + int(value)
    return totals


def _add(into: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


class LiveCounters:
    """Context manager: `snapshot()` gives the running job's counters at any moment."""

    def __init__(self, progress_interval: float = 2.0) -> None:
        self.progress_interval = progress_interval
        self._lock = threading.Lock()
        self._finished: dict[str, int] = {}
        self._remote: dict[str, dict[str, int]] = {}  # instruction -> its latest progress
        self._workers: weakref.WeakSet = weakref.WeakSet()
        self._saved: list[tuple[Any, str, Any]] = []
        self.bundles = 0

    def __enter__(self) -> LiveCounters:
        from apache_beam.runners.portability.fn_api_runner import fn_runner, worker_handlers

        self._patch(fn_runner.FnApiRunner, "_execute_bundle", self._wrap_execute)
        self._patch(worker_handlers.EmbeddedWorkerHandler, "__init__", self._wrap_embedded)
        self._patch(fn_runner, "ProgressRequester", self._requester_class)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            totals = dict(self._finished)
            for inflight in self._remote.values():
                _add(totals, inflight)
        for worker in list(self._workers):
            _add(totals, _in_flight(worker))
        return dict(sorted(totals.items()))

    def _patch(self, owner: Any, name: str, make: Any) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def _wrap_execute(self, original: Any) -> Any:
        live = self

        def execute_bundle(runner, context, bundle_context_manager, bundle_input):
            result = original(runner, context, bundle_context_manager, bundle_input)
            done = counter_sums(result.process_bundle.monitoring_infos)
            with live._lock:
                _add(live._finished, done)
                live.bundles += 1
            return result

        return execute_bundle

    def _wrap_embedded(self, original: Any) -> Any:
        live = self

        def init(handler, *args, **kwargs):
            original(handler, *args, **kwargs)
            live._workers.add(handler)

        return init

    def _requester_class(self, base: Any) -> Any:
        live = self

        class Requester(base):
            """Asks every bundle on a remote worker for progress, and keeps the answer."""

            def __init__(self, worker_handler, instruction_id, frequency, callback=None):
                self._key = str(instruction_id)

                def keep(progress):
                    with live._lock:
                        live._remote[self._key] = counter_sums(progress.monitoring_infos)

                super().__init__(
                    worker_handler, instruction_id, frequency or live.progress_interval, keep
                )

            def __enter__(self):
                from apache_beam.runners.portability.fn_api_runner import worker_handlers

                if isinstance(self._worker_handler, worker_handlers.EmbeddedWorkerHandler):
                    return None  # it runs the bundle inside push(): nobody to ask meanwhile
                return super().__enter__()

            def __exit__(self, *exc_info):
                result = super().__exit__(*exc_info)
                with live._lock:
                    live._remote.pop(self._key, None)
                return result

        return Requester


def _in_flight(worker: Any) -> dict[str, int]:
    """Counters of the bundles this in-process worker is running now."""
    totals: dict[str, int] = {}
    try:
        processors = list(worker.bundle_processor_cache.active_bundle_processors.values())
    except Exception:  # a worker shutting down: it has nothing in flight
        return totals
    for _, processor in processors:
        try:
            _add(totals, counter_sums(processor.monitoring_infos()))
        except Exception:  # a bundle finishing under us: counted by its result instead
            continue
    return totals
