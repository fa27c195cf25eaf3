"""How kept records are laid out in ArrayRecord shards and side outputs."""

from __future__ import annotations

from pydantic import Field

from polymix.core.config.base import Section


class ShardsConfig(Section):
    target_bytes: int = Field(
        128 * 2**20,
        ge=1024,
        description="Approximate shard size; the number of shards per source follows from it.",
    )
    max_seq_len: int = Field(
        2048,
        ge=8,
        description="Maximum positions per record; longer documents are cut into several records.",
    )
    side_output_target_bytes: int = Field(
        64 * 2**20, ge=1024, description="Approximate size of each rejected/ and duplicates/ part."
    )
