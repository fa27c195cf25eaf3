"""Exact deduplication on the normalized text's sha256: one copy per hash survives.

The survivor is the smallest (source, id) in the group, so the choice does not depend
on arrival order or worker count. The grouped values are iterated twice instead of
being sorted, so a hash with millions of copies needs no memory on its worker.
"""

from __future__ import annotations

import apache_beam as beam

from polymix.core.config.text import ExactDedupConfig
from polymix.transforms.example import Duplicate, Example
from polymix.transforms.hashing import content_hash

STAGE = "exact_dedup"


def _key(example: Example, scope: str) -> str:
    digest = content_hash(example.text or "")
    return digest if scope == "global" else f"{example.source}/{digest}"


def _split_group(item):
    _, examples = item
    kept_key = min((e.source, e.id) for e in examples)
    kept_emitted = False
    for example in examples:
        if not kept_emitted and (example.source, example.id) == kept_key:
            kept_emitted = True
            yield example
        else:
            beam.metrics.Metrics.counter(STAGE, "duplicates").inc()
            yield beam.pvalue.TaggedOutput("duplicates", Duplicate(example, STAGE, kept_key[1]))


class ExactDuplicates(beam.PTransform):
    """PCollection[Example] → {"kept": PCollection[Example], "duplicates": PCollection[Duplicate]}."""

    def __init__(self, config: ExactDedupConfig):
        super().__init__()
        self.config = config

    def expand(self, examples):
        if not self.config.enabled:
            return {
                "kept": examples,
                "duplicates": examples.pipeline | "NoDuplicates" >> beam.Create([]),
            }
        scope = self.config.scope
        out = (
            examples
            | "ByContent" >> beam.Map(lambda e: (_key(e, scope), e))
            | "Group" >> beam.GroupByKey()
            | "KeepFirst" >> beam.FlatMap(_split_group).with_outputs("duplicates", main="kept")
        )
        return {"kept": out.kept, "duplicates": out.duplicates}
