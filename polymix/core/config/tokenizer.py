"""SentencePiece: trained by `polymix tokenizer train`, used by `polymix run`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polymix.core.config.base import Section


class TokenizerConfig(Section):
    model: str = Field(
        "tokenizer/spm.model",
        description="SentencePiece model file (relative to this config); written by "
        "`polymix tokenizer train`, read by `polymix run`.",
    )
    vocab_size: int = Field(
        256000, ge=16, description="Vocabulary size (the reference model: 256000)."
    )
    model_type: Literal["unigram", "bpe"] = Field("unigram", description="SentencePiece algorithm.")
    character_coverage: float = Field(
        0.9995, gt=0, le=1, description="Share of characters covered before falling back to bytes."
    )
    train_max_documents: int = Field(
        200000, ge=1, description="Documents sampled (in file order) to train the tokenizer."
    )
    byte_fallback: bool = Field(
        True, description="Unknown characters become byte pieces, never <unk>."
    )
