"""The values that flow between pipeline stages.

Every input example ends as exactly one of: a kept `Example` (then a shard record),
a `Rejection` or a `Duplicate`. Stages never drop an element; they re-label it. That
is what lets the manifest prove `input = kept + duplicates + rejected` per source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One input example on its way through the pipeline.

    `original` keeps what the reader saw (the JSON object, or the raw line for bad
    input) so a rejected example can be written out unchanged. `attributes` holds
    the tags stages compute (scores, language, hashes): tag first, decide later.
    """

    source: str
    id: str
    modality: str
    text: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    media: bytes | None = None

    def replace(self, **changes: Any) -> Example:
        return dataclasses.replace(self, **changes)

    def tagged(self, **attributes: Any) -> Example:
        return dataclasses.replace(self, attributes={**self.attributes, **attributes})


@dataclass(frozen=True)
class Rejection:
    """An example a stage refused, with the stage and a short machine-readable reason."""

    example: Example
    stage: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Duplicate:
    """An example removed because another one (`kept_id`) carries the same content."""

    example: Example
    stage: str
    kept_id: str
    similarity: float = 1.0


@dataclass(frozen=True)
class TokenizedRecord:
    """One encoded shard record (a document may give several when cut to `max_seq_len`)."""

    source: str
    modality: str
    id: str
    payload: bytes
    positions: int
