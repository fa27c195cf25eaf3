"""Exact or near text dedup alone: `TextDuplicates` with the other kind switched off.

For tests, benchmarks and users who want one kind only; the pipeline runs both in one
join (`text_dedup.py`).
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.config.text import ExactDedupConfig
from polymix.pipelines.text_dedup import TextDuplicates
from polymix.transforms.minhash import manifest_scheme


class ExactDuplicates(beam.PTransform):
    """PCollection[Example] → {"kept": PCollection[Example], "duplicates": PCollection[Duplicate]}.

    Text exact dedup alone; `TextDuplicates` runs it with near dedup in one join.
    """

    def __init__(self, config: ExactDedupConfig):
        super().__init__()
        self.config = config

    def expand(self, examples: beam.PCollection) -> Any:
        return examples | "Text" >> TextDuplicates(self.config, NearDedupConfig(enabled=False))


class NearDuplicates(beam.PTransform):
    """`PCollection[Example]` in; `{"kept": Example, "duplicates": Duplicate}` out.

    Near dedup alone (`TextDuplicates` runs it after exact dedup in one join). Each
    input comes out once. A cluster keeps its smallest id (ties on id broken by source);
    kept documents carry `minhash_cluster_size` (1 when unique). Documents with no words
    are kept and never compared. Node keys (id, source) must be unique.
    """

    def __init__(self, config: NearDedupConfig) -> None:
        super().__init__()
        self.config = config

    def scheme(self) -> dict[str, object]:
        """The manifest's `minhash` entry for this stage."""
        return manifest_scheme(self.config)

    def expand(self, examples: beam.PCollection) -> Any:
        return examples | "Text" >> TextDuplicates(ExactDedupConfig(enabled=False), self.config)
