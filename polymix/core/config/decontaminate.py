"""`filters.decontaminate`: remove training documents that share an n-gram with an eval set.

GPT-3 and DataTrove use 13-word n-grams; eval sets are JSONL or Parquet files the user
supplies, each with a name that appears in `rejected/<source>/decontaminate/<name>/`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polymix.core.config.base import Section

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class EvalSetConfig(Section):
    name: str = Field(description="Eval set name; the rejection reason for documents it catches.")
    paths: list[str] = Field(
        min_length=1, description="Globs, relative to this config file unless absolute or gs://."
    )
    format: Literal["jsonl", "parquet"] = Field("jsonl", description="jsonl or parquet.")
    text_fields: list[str] = Field(
        ["text"],
        min_length=1,
        description="Fields whose text is indexed (e.g. question and answer), each on its own.",
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SAFE_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError("must use only ASCII letters, digits, '-', '_' and '.'")
        return value


class DecontaminateConfig(Section):
    eval_sets: list[EvalSetConfig] = Field(
        [], description="Evaluation sets to decontaminate against; empty turns the stage off."
    )
    ngram_words: int = Field(
        13, ge=1, description="Words per n-gram a document may not share (GPT-3, DataTrove: 13)."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> DecontaminateConfig:
        names = [e.name for e in self.eval_sets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"eval set names must be unique; repeated: {repeated}")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.eval_sets)
