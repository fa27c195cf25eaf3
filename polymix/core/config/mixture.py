"""The `mixture` section: how many training positions to plan for and how often a source may repeat.

Target weights per source live on each source (`sources[].weight`); this section adds the
budget, the epoch caps and optional weights per modality group, which is what turns the
targets into the weights and epochs the trainer actually uses (`polymix.core.mixture`).
"""

from __future__ import annotations

from pydantic import Field, NonNegativeFloat, PositiveFloat

from polymix.core.config.base import Section
from polymix.core.config.sources import Modality


class MixtureConfig(Section):
    budget_tokens: int | None = Field(
        None,
        ge=1,
        description=(
            "Training budget in sequence positions (text tokens + image patches + audio "
            "frames); empty plans for as many positions as the run kept."
        ),
    )
    max_epochs: float = Field(
        4.0,
        gt=0,
        description=(
            "Most passes over any one source; more repetition than ~4 epochs stops helping "
            "(Muennighoff et al. 2023), so a small source is capped and the rest redistributed."
        ),
    )
    max_epochs_per_source: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="Source name -> its own epoch cap, overriding max_epochs (e.g. books: 8).",
    )
    modality_weights: dict[Modality, NonNegativeFloat] | None = Field(
        None,
        description=(
            "Modality group -> share of the budget (relative), e.g. {text: 0.7, image: 0.2, "
            "audio: 0.1}; sources then split their group's share by their own weights. Empty: "
            "source weights alone decide."
        ),
    )
    redistribute: bool = Field(
        True,
        description=(
            "When a source (or group) cannot reach its target within its epoch cap, give the "
            "rest to the others in proportion to their weights (UniMax); false makes it an error."
        ),
    )
