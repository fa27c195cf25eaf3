"""Text normalization and exact deduplication: the steps every text source goes through."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polymix.core.config.base import Section


class NormalizeConfig(Section):
    unicode_form: Literal["NFC", "NFKC", "none"] = Field(
        "NFC", description="Unicode normal form applied before anything else."
    )
    collapse_whitespace: bool = Field(
        True, description="Fold runs of spaces/tabs to one space and trim every line."
    )
    max_blank_lines: int = Field(1, ge=0, description="Longest run of empty lines kept.")
    strip_control: bool = Field(
        True, description="Remove control characters except newline and tab."
    )


class ExactDedupConfig(Section):
    enabled: bool = Field(True, description="Drop documents whose normalized text is identical.")
    scope: Literal["global", "source"] = Field(
        "global",
        description="global: one copy across all sources; source: one copy per source.",
    )
