"""Where the data comes from and how much of the mixture each source should get."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polymix.core.config.base import Section
from polymix.core.config.web import WebSourceConfig

Modality = Literal["text", "code", "image", "audio", "video"]
Format = Literal["jsonl", "parquet", "warc", "files", "webdataset"]
MEDIA_MODALITIES = ("image", "audio", "video")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class SourceConfig(Section):
    name: str = Field(
        description="Unique source name; used in shard paths, rejected/ and the report."
    )
    modality: Modality = Field(description="text | code | image | audio | video.")
    paths: list[str] = Field(
        description="Glob patterns, relative to this config file unless absolute or gs://...",
        min_length=1,
    )
    format: Format = Field(
        description="jsonl (plain, .gz or .zst, chosen by file suffix) or parquet; warc for "
        "web archives (WARC and WET, plain or .gz); for image, audio and video also files "
        "(one medium per file) or webdataset (tar shards of key.ext members)."
    )
    text_field: str = Field("text", description="Field holding the document text.")
    id_field: str | None = Field(
        None,
        description="Field holding a stable document id; when absent ids are `<file>:<line>` "
        "(Parquet: row), the file relative to the folder the source's globs start in, so they "
        "do not change when the corpus moves. An id repeated within the source keeps its first "
        "copy; the others are rejected as read/duplicate_id.",
    )
    media_field: str = Field(
        "media", description="Parquet column holding the encoded image/audio/video bytes."
    )
    caption_field: str | None = Field(
        None,
        description="Text paired with a medium (caption, transcript), tokenized into its record: "
        "a Parquet column; for files and webdataset a sidecar extension (txt: key.txt) or a "
        "key of the key.json sidecar. Empty: no text.",
    )
    web: WebSourceConfig = Field(
        default_factory=WebSourceConfig,
        description="format warc: which records are pages and how HTML becomes text.",
    )
    weight: float = Field(
        1.0, ge=0, description="Target mixture weight (relative to other sources)."
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # The name becomes a folder under shards/, rejected/ and duplicates/: '..' or '/'
        # would put files outside them, and non-ASCII letters differ between filesystems.
        if not SAFE_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                "must be non-empty, not '.' or '..', and use only ASCII letters, digits, "
                "'-', '_' and '.'"
            )
        return value

    @model_validator(mode="after")
    def _format_fits_modality(self) -> SourceConfig:
        media = self.modality in MEDIA_MODALITIES
        if self.format in ("files", "webdataset") and not media:
            raise ValueError(f"format {self.format} is for image, audio and video sources")
        if self.format == "warc" and self.modality != "text":
            raise ValueError("format warc is for text sources")
        if media and self.format == "jsonl":
            raise ValueError("image, audio and video sources read files, webdataset or parquet")
        return self
