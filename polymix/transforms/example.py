"""The values that flow between pipeline stages.

Every input example ends as exactly one of: a kept `Example` (then a shard record),
a `Rejection` or a `Duplicate`. Stages never drop an element; they re-label it. That
is what lets the manifest prove `input = kept + duplicates + rejected` per source.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from polymix.transforms.unicode_safety import escape_unencodable


@dataclass(frozen=True)
class Example:
    """One input example on its way through the pipeline.

    `original` keeps what the reader saw (the JSON object's other fields, or the raw
    line for bad input) so a rejected example can be written out unchanged. It is JSON
    text, not a tree: user metadata of any depth crosses every shuffle as one flat
    string, and a side line embeds it verbatim. A mapping given at construction is
    serialized (lone surrogates escaped, so the text is always valid UTF-8).
    `attributes` holds the tags stages compute (scores, language, hashes): tag first,
    decide later.
    """

    source: str
    id: str
    modality: str
    text: str | None = None
    original: str = "{}"
    attributes: dict[str, Any] = field(default_factory=dict)
    media: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.original, str):
            object.__setattr__(self, "original", original_json(self.original))

    def original_object(self) -> Any:
        """`original` parsed back (for tools, tests and the few fields a stage reads from it)."""
        return json.loads(self.original)

    def original_field(self, name: str) -> Any:
        """One top-level field of what the reader saw (a page's URL column), or None."""
        if f'"{name}"' not in self.original:  # most lines lack it: skip the parse
            return None
        value = self.original_object()
        return value.get(name) if isinstance(value, dict) else None

    def replace(self, **changes: Any) -> Example:
        return dataclasses.replace(self, **changes)

    def tagged(self, **attributes: Any) -> Example:
        return dataclasses.replace(self, attributes={**self.attributes, **attributes})


_ORIGINAL_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def original_json(value: Any) -> str:
    """The JSON text `Example.original` holds for `value`: always valid UTF-8."""
    return escape_unencodable(_ORIGINAL_ENCODER.encode(value))


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
    """One encoded shard record (a document may give several when cut to `max_seq_len`).

    `example_id` is the id of the example it came from: what the held-out split
    decides by, so every record of one example lands on the same side.
    """

    source: str
    modality: str
    id: str
    payload: bytes
    positions: int
    example_id: str
