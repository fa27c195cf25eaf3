"""Beam stage: run the configured quality filters on every example, per its modality.

One DoFn runs the whole stage chain for an example, so the text is tokenized once and fastText
models are loaded once per worker (in `setup`). Every input leaves exactly once: as a kept
`Example` (tagged, possibly with rewritten text) or as a `Rejection` naming the stage and reason,
each rejection counted in `Metrics.counter(stage, reason)`. An exception in any filter rejects
the example at stage `quality` as `error:<Type>` (`pipelines.isolation`). Text modifications are
counted too (`Metrics.counter(stage, "modified_<what>")`), and detected languages as
`Metrics.counter("language", "detected_<lang>")`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.core.config.filters import FiltersConfig
from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.transforms.example import Example, Rejection
from polymix.transforms.filters import build_stages, load_models, run_stages

KEPT = "kept"
STAGE = "quality"  # where a filter's failure is filed: the chain runs as one step


def check_models(config: FiltersConfig) -> None:
    """Load every model the configured stages need, so a missing one fails before Beam starts.

    Raises `transforms.filters.fasttext_models.ModelNotFound` (a FileNotFoundError) whose message
    says how to install the model.
    """
    for modality in ("text", "code"):
        load_models(build_stages(config, modality))


class _QualityDoFn(IsolatedDoFn):
    stage = STAGE

    def __init__(self, config: FiltersConfig) -> None:
        self._config = config
        self._stages: dict[str, list[Any]] = {}

    def setup(self) -> None:
        self._stages = {m: build_stages(self._config, m) for m in ("text", "code")}
        for stages in self._stages.values():
            load_models(stages)

    def handle(self, example: Example) -> Iterator[Any]:
        stages = self._stages.get(example.modality, [])
        if not stages:
            yield example
            return
        verdict = run_stages(stages, example.text)
        attributes = {**example.attributes, **verdict.attributes}
        if "modified" in verdict.attributes and "modified" in example.attributes:
            attributes["modified"] = {
                **example.attributes["modified"],
                **verdict.attributes["modified"],
            }
        for stage, counts in verdict.attributes.get("modified", {}).items():
            for what, n in counts.items():
                Metrics.counter(stage, f"modified_{what}").inc(n)
            Metrics.counter(stage, "modified_documents").inc()
        language = verdict.attributes.get("language")
        if language:
            Metrics.counter("language", f"detected_{language['lang']}").inc()
        tagged = example.replace(text=verdict.text, attributes=attributes)
        if verdict.kept:
            yield tagged
            return
        Metrics.counter(verdict.stage, verdict.reason).inc()
        detail = ",".join(reason for _, reason in verdict.failures)
        yield beam.pvalue.TaggedOutput(
            REJECTED, Rejection(tagged, verdict.stage, verdict.reason, detail)
        )


class QualityFilters(beam.PTransform):
    """PCollection[Example] -> {"kept": PCollection[Example], "rejected": PCollection[Rejection]}.

    A rejected example keeps the text the rejecting stage saw (after earlier C4/PII rewrites) and
    all attributes computed so far; `original` is untouched, so `rejected/` can hold the input as read.
    """

    def __init__(self, config: FiltersConfig, label: str = "QualityFilters") -> None:
        super().__init__(label)
        self._config = config

    def expand(self, examples: beam.PCollection) -> dict[str, beam.PCollection]:
        results = examples | "Filter" >> beam.ParDo(_QualityDoFn(self._config)).with_outputs(
            REJECTED, main=KEPT
        )
        return {KEPT: results[KEPT], REJECTED: results[REJECTED]}
