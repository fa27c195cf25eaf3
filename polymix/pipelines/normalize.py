"""Normalize every text; an example with nothing left is rejected, not dropped."""

from __future__ import annotations

import apache_beam as beam

from polymix.core.config.text import NormalizeConfig
from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.transforms.example import Example, Rejection
from polymix.transforms.normalize import normalize_source_text

STAGE = "normalize"


class _NormalizeFn(IsolatedDoFn):
    stage = STAGE

    def __init__(self, config: NormalizeConfig):
        self.config = config

    def handle(self, example: Example):
        text = normalize_source_text(example.text or "", self.config, example.modality)
        if not text:
            beam.metrics.Metrics.counter(STAGE, "empty_text").inc()
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(example, STAGE, "empty_text"))
        else:
            yield example.replace(text=text)


class NormalizeText(beam.PTransform):
    """PCollection[Example] → {"kept": ..., "rejected": PCollection[Rejection]}."""

    def __init__(self, config: NormalizeConfig):
        super().__init__()
        self.config = config

    def expand(self, examples):
        out = examples | beam.ParDo(_NormalizeFn(self.config)).with_outputs(REJECTED, main="kept")
        return {"kept": out.kept, "rejected": out[REJECTED]}
