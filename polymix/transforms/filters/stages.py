"""Build the configured stages for a modality and run a document through them.

The runner is shared by the Beam transform and `polymix tag`, so the pipeline and the command
explain a document in exactly the same words. Attributes go under the stage's name
(`attributes["gopher_quality"]["n_words"]`); text changes are counted under
`attributes["modified"][stage]`. Text rewritten by one stage (C4, PII) is what later stages see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from polymix.transforms.filters.base import Stage
from polymix.transforms.filters.c4 import C4
from polymix.transforms.filters.code import Code
from polymix.transforms.filters.fineweb import FineWeb
from polymix.transforms.filters.gopher_quality import GopherQuality
from polymix.transforms.filters.gopher_repetition import GopherRepetition
from polymix.transforms.filters.language import Language
from polymix.transforms.filters.pii import PII
from polymix.transforms.filters.plugins import build_plugin
from polymix.transforms.filters.quality_classifier import QualityClassifier
from polymix.transforms.filters.text import DocView

STAGE_CLASSES: dict[str, type] = {
    "language": Language,
    "gopher_repetition": GopherRepetition,
    "gopher_quality": GopherQuality,
    "c4": C4,
    "fineweb": FineWeb,
    "code": Code,
    "quality_classifier": QualityClassifier,
    "pii": PII,
}


def build_stage(filters_config: Any, name: str) -> Stage:
    """A built-in stage from its config section, or a user stage from `filters.plugins`."""
    if name in STAGE_CLASSES:
        return STAGE_CLASSES[name](filters_config.stage_config(name))
    return build_plugin(name, filters_config.plugins.get(name))


def build_named_stages(filters_config: Any, names: Iterable[str]) -> list[Stage]:
    """Stage objects for `names`, in that order (`polymix tag --stages`)."""
    return [build_stage(filters_config, name) for name in names]


def build_stages(filters_config: Any, modality: str) -> list[Stage]:
    """Stage objects for one modality from a `polymix.core.config.filters.FiltersConfig`."""
    return build_named_stages(filters_config, filters_config.stages_for(modality))


def load_models(stages: list[Stage]) -> None:
    """Load every model the stages need (once per worker: call from DoFn.setup)."""
    for stage in stages:
        loader = getattr(stage, "load", None)
        if loader is not None:
            loader()


@dataclass
class Verdict:
    """Where a document ends: kept (`stage` is None) or rejected by `stage` for `reason`."""

    text: str | None
    attributes: dict[str, Any]
    stage: str | None = None
    reason: str = ""
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return self.stage is None


def run_stages(stages: list[Stage], text: str | None, *, explain_all: bool = False) -> Verdict:
    """Tag and decide stage by stage; stop at the first rejection unless `explain_all`.

    With `explain_all` every stage is tagged and every failed rule listed in `failures`, so one
    can see all the reasons a document would be dropped, not only the first.
    """
    attributes: dict[str, Any] = {}
    if not stages:
        return Verdict(text, attributes)
    if not text or not text.strip():
        return Verdict(text, attributes, stages[0].name, "empty", [(stages[0].name, "empty")])
    modified: dict[str, dict[str, int]] = {}
    verdict = Verdict(text, attributes)
    doc = DocView(text)
    for stage in stages:
        tags = stage.tag(doc)
        attributes[stage.name] = tags.attributes
        reasons = stage.decide(tags.attributes)
        if reasons:
            verdict.failures.extend((stage.name, reason) for reason in reasons)
            if verdict.stage is None:
                verdict.stage, verdict.reason = stage.name, reasons[0]
            if not explain_all:
                break
        if tags.modified:
            modified[stage.name] = dict(tags.modified)
        if tags.text is not None:
            doc = DocView(tags.text)
            if not tags.text.strip() and stage is not stages[-1] and verdict.stage is None:
                verdict.stage, verdict.reason = stage.name, "empty_after_modification"
                verdict.failures.append((stage.name, "empty_after_modification"))
                if not explain_all:
                    break
    verdict.text = doc.text
    if modified:
        attributes["modified"] = modified
    return verdict
