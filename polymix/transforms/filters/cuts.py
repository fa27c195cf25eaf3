"""Every numeric cut the configured stages apply, for reports that re-cut without re-scoring.

`polymix report` can read `attributes[stage][cut.attribute]` from kept and rejected examples,
draw the histogram with `cut.threshold`, and count what another threshold would keep. Only
documents that reached a stage carry its attributes (the pipeline stops at the first rejection);
`polymix tag` runs every stage on every document when the full picture is needed.
"""

from __future__ import annotations

from typing import Any

from polymix.transforms.filters.base import Cut
from polymix.transforms.filters.stages import build_stages


def numeric_cuts(filters_config: Any, modality: str = "text") -> dict[str, tuple[Cut, ...]]:
    """Stage name -> its numeric cuts, in the order the stages run for `modality`."""
    return {
        stage.name: tuple(getattr(stage, "cuts", ()))
        for stage in build_stages(filters_config, modality)
    }


def kept_at(values: list[float], cut: Cut, threshold: float) -> int:
    """How many of `values` a cut with another threshold would keep."""
    moved = Cut(cut.reason, cut.attribute, cut.op, threshold)
    return sum(1 for value in values if not moved.fails(value))
