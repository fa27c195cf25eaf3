"""Fault isolation: an exception while handling one example rejects that example, never the job.

Every per-example stage is an `IsolatedDoFn`: it implements `handle(element)` and the
base runs it, gathers its outputs, and only then emits them. If `handle` raises, the
outputs gathered so far are dropped and the element leaves instead as a `Rejection`
at the stage, reason `error:<ExceptionType>`, the traceback (install-independent,
without object addresses: `transforms.failures`) as its detail, on the `rejected`
output. So an example comes out whole or rejected, exactly once, and the accounting
still balances. Gathering costs one example's outputs (a document's records), which
the stage produces anyway.

What is *not* isolated, on purpose: `setup` (a missing model fails every example, so
it fails the job, at start) and errors raised after `process` yields (a coder failing
downstream). The readers make sure nothing reaches the coders that they cannot encode.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.transforms.example import Example
from polymix.transforms.failures import failed

REJECTED = "rejected"


class IsolatedDoFn(beam.DoFn):
    """Base of every per-example stage; subclasses set `stage` and implement `handle`."""

    stage = "unknown"

    def handle(self, element: Any) -> Iterable[Any]:
        raise NotImplementedError

    def failed_example(self, element: Any) -> Example:
        """The example a failure rejects (an element that is not an `Example` says how)."""
        return element

    def process(self, element: Any) -> Iterator[Any]:
        try:
            outputs = list(self.handle(element))
        except Exception as exc:
            rejection = failed(self.failed_example(element), self.stage, exc)
            Metrics.counter(self.stage, rejection.reason).inc()
            yield beam.pvalue.TaggedOutput(REJECTED, rejection)
            return
        yield from outputs
