"""What every filter stage looks like: tag a document with numbers, then decide from the numbers.

Splitting the two (Dolma's "tag first, decide later") is what lets a report say how many documents
another threshold would keep without re-scoring: `decide` reads only the attributes and the config.
A stage that rewrites text (C4 line removal, PII redaction) returns the new text from `tag` and the
counts of what it changed; that is a modification, never a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from polymix.transforms.filters.text import DocView

Attributes = dict[str, Any]


@dataclass(frozen=True)
class Tags:
    """A stage's scores for one document, and the rewritten text if the stage modifies text."""

    attributes: Attributes
    text: str | None = None
    modified: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Cut:
    """One numeric rule: reject when `attribute` is below (op "<") or above (op ">") `threshold`.

    Published as data so a report can draw each attribute's histogram with its cut, and count
    how many documents another threshold would keep, from the stored attributes alone.
    """

    reason: str
    attribute: str
    op: str
    threshold: float

    def fails(self, value: float) -> bool:
        return value < self.threshold if self.op == "<" else value > self.threshold


def failed_cuts(cuts: tuple[Cut, ...], attributes: Mapping[str, Any]) -> list[str]:
    return [cut.reason for cut in cuts if cut.fails(attributes[cut.attribute])]


class Stage(Protocol):
    """One rule set. `name` is the key used in config, `rejected/<source>/<stage>/` and counters."""

    name: str
    cuts: tuple[Cut, ...]

    def tag(self, doc: DocView) -> Tags: ...

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        """Every failed rule's reason, in the order the rules are listed; empty means keep."""
        ...


class ModelStage(Stage, Protocol):
    """A stage that needs a model: `load` runs once per worker (Beam's DoFn.setup), not per document."""

    def load(self) -> None: ...


def ratio(numerator: float, denominator: float) -> float:
    """A fraction that is 0 (not an error) on an empty document: emptiness has its own rule."""
    return numerator / denominator if denominator else 0.0
