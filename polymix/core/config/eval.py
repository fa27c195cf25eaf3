"""The held-out split: a fixed share of each source's kept examples, for evaluation only."""

from __future__ import annotations

from pydantic import Field

from polymix.core.config.base import Section


class EvalConfig(Section):
    fraction: float = Field(
        0.005,
        ge=0.0,
        lt=1.0,
        description=(
            "Share of each source's kept examples written to eval shards instead of training "
            "shards, chosen by a hash of the example id; 0 holds nothing out."
        ),
    )
    salt: str = Field(
        "",
        description="Mixed into the id hash: a different salt draws a different held-out set.",
    )
