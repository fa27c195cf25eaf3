"""Beam stage: run the configured quality filters on every example, per its modality.

One DoFn runs the whole stage chain for an example, so the text is tokenized once and fastText
models are loaded once per worker (in `setup`). Every input leaves exactly once: as a kept
`Example` (tagged, possibly with rewritten text) or as a `Rejection` naming the stage and reason,
each rejection counted in `Metrics.counter(stage, reason)`. An exception in any filter rejects
the example at stage `quality` as `error:<Type>` (`pipelines.isolation`). Text modifications are
counted too (`Metrics.counter(stage, "modified_<what>")`), and detected languages as
`Metrics.counter("language", "detected_<lang>")`.

Models reach workers as `pipelines.model_files.ModelFile`s, staged when the graph is built
(so a dry run already fails on a model a worker would not find), and are copied to each
worker's scratch and loaded in `setup`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.core.config.filters import FiltersConfig
from polymix.core.stages import QUALITY
from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.pipelines.model_files import (
    ModelFile,
    ModelUnavailable,
    Placement,
    local_copy,
    placement_from_options,
    stage_model,
)
from polymix.transforms.example import Example, Rejection
from polymix.transforms.filters import build_stages, fasttext_models, load_models, run_stages
from polymix.transforms.filters.fasttext_models import lid_model_path

KEPT = "kept"
STAGE = QUALITY  # where a filter's failure is filed: the chain runs as one step


def check_models(config: FiltersConfig) -> None:
    """Load every model the configured stages need, so a missing one fails before Beam starts.

    Local models are loaded as workers will load them; a gs:// model is only checked to
    exist (it may be gigabytes; each worker reads it). Raises `ModelNotFound` (a
    FileNotFoundError) or `ModelUnavailable` whose message says how to get the model. User
    stages are built too, so one that cannot be imported or built fails here, in one line.
    """
    for modality in ("text", "code"):
        build_stages(config, modality)
    launcher = Placement(shared_disk=True, temp_location=None, dry_run=True)
    paths = model_paths(config)
    local = {
        section: local_copy(stage_model(f"filters.{section}.model_path", path, launcher))
        for section, path in paths.items()
        if "://" not in path
    }
    for path in local.values():
        fasttext_models.load(path)


MODEL_SECTIONS = ("language", "quality_classifier")


def model_paths(config: FiltersConfig) -> dict[str, str]:
    """`filters.<section>.model_path` for each configured stage that needs a model."""
    used = set(config.stages_for("text")) | set(config.stages_for("code"))
    paths = {}
    if "language" in used:
        paths["language"] = config.language.model_path or lid_model_path()
    if "quality_classifier" in used and config.quality_classifier.model_path:
        paths["quality_classifier"] = config.quality_classifier.model_path
    return paths


def with_model_paths(config: FiltersConfig, paths: dict[str, str]) -> FiltersConfig:
    updates = {
        section: getattr(config, section).model_copy(update={"model_path": path})
        for section, path in paths.items()
    }
    return config.model_copy(update=updates)


class _QualityDoFn(IsolatedDoFn):
    stage = STAGE

    def __init__(self, config: FiltersConfig, models: dict[str, ModelFile] | None = None) -> None:
        self._config = config
        self._models = models or {}
        self._stages: dict[str, list[Any]] = {}

    def setup(self) -> None:
        local = {section: local_copy(model) for section, model in self._models.items()}
        config = with_model_paths(self._config, local)
        self._stages = {m: build_stages(config, m) for m in ("text", "code")}
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
        where = placement_from_options(examples.pipeline.options)
        try:
            paths = model_paths(self._config)
        except FileNotFoundError as exc:  # lid.176 not installed on the launcher
            raise ModelUnavailable(f"filters.language.model_path: {exc}") from None
        models = {
            section: stage_model(f"filters.{section}.model_path", path, where)
            for section, path in paths.items()
        }
        results = examples | "Filter" >> beam.ParDo(
            _QualityDoFn(self._config, models)
        ).with_outputs(REJECTED, main=KEPT)
        return {KEPT: results[KEPT], REJECTED: results[REJECTED]}
