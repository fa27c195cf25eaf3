"""Per-source counts that prove `input = kept + duplicates + rejected`.

Each outcome becomes a small (key, 1) pair and is summed by Beam; the totals are a
few numbers per source and reason, the only thing gathered onto one worker.
"""

from __future__ import annotations

import apache_beam as beam

from polymix.transforms.example import Duplicate, Example, Rejection

Key = tuple[str, str, str, str]  # (source, bucket, stage, reason)


def input_key(item: Example | Rejection) -> Key:
    example = item.example if isinstance(item, Rejection) else item
    return (example.source, "input", "", "")


def rejected_key(rejection: Rejection) -> Key:
    return (rejection.example.source, "rejected", rejection.stage, rejection.reason)


def duplicate_key(duplicate: Duplicate) -> Key:
    return (duplicate.example.source, "duplicates", duplicate.stage, "")


def kept_key(example: Example) -> Key:
    return (example.source, "kept", "", "")


def modified_keys(item: Example | Rejection):
    """((source, "modified", stage, change), n) for each change a stage made to the text."""
    example = item.example if isinstance(item, Rejection) else item
    for stage, changes in example.attributes.get("modified", {}).items():
        for change, n in changes.items():
            yield (example.source, "modified", stage, change), n


class CountModified(beam.PTransform):
    """Modifications are not outcomes: a changed document is still kept (or rejected later)."""

    def expand(self, items):
        return items | "Changes" >> beam.FlatMap(modified_keys) | "Sum" >> beam.CombinePerKey(sum)


class CountBy(beam.PTransform):
    """PCollection[T] → PCollection[(Key, int)] summed per key."""

    def __init__(self, key_fn):
        super().__init__()
        self.key_fn = key_fn

    def expand(self, items):
        key_fn = self.key_fn
        return (
            items
            | "Key" >> beam.Map(lambda item: (key_fn(item), 1))
            | "Sum" >> beam.CombinePerKey(sum)
        )
