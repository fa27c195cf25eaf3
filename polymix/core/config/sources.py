"""Where the data comes from and how much of the mixture each source should get."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polymix.core.config.base import Section
from polymix.core.config.web import WebSourceConfig

Modality = Literal["text", "code", "image", "audio", "video"]
Format = Literal["jsonl", "parquet", "csv", "text", "hf_arrow", "warc", "files", "webdataset"]
MEDIA_MODALITIES = ("image", "audio", "video")
TEXT_ONLY_FORMATS = ("jsonl", "csv", "text", "hf_arrow")
MEDIA_ONLY_FORMATS = ("files", "webdataset")
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
        description="Text and code: jsonl (one JSON object a line), csv (a header row, then "
        "one record each), text (one document per file, its id the file) - each plain or "
        "compressed (.gz, .bz2, .xz, .lzma, .zst, .deflate, by suffix as Beam decides) - "
        "parquet, hf_arrow (the .arrow files of a HuggingFace `save_to_disk` folder: name "
        "them, data/wiki/*.arrow, or data/wiki/*/*.arrow for a DatasetDict), or warc for web "
        "archives (WARC and WET, plain or .gz). Image, audio "
        "and video: files (one medium per file), webdataset (tar shards of key.ext members) "
        "or parquet."
    )
    text_field: str = Field(
        "text",
        description="Field holding the document text; a dotted path reaches into nested "
        "objects and struct columns (meta.body), a field named with the dot itself first.",
    )
    id_field: str | None = Field(
        None,
        description="Field holding a stable document id (dotted paths as text_field); when "
        "absent ids are `<file>:<line>` (Parquet, Arrow: row), the file relative to the folder "
        "the source's globs start in, so they do not change when the corpus moves. An id "
        "repeated within the source keeps its first copy; the others are rejected as "
        "read/duplicate_id.",
    )
    delimiter: str = Field(
        ",", description='csv only: the one character between fields ("\\t" for TSV).'
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

    @field_validator("delimiter")
    @classmethod
    def _one_ascii_character(cls, value: str) -> str:
        # Records are cut on bytes before they are parsed, which needs an ASCII delimiter.
        if len(value) != 1 or not value.isascii() or value in '"\r\n':
            raise ValueError("must be one ASCII character other than a quote or a newline")
        return value

    @model_validator(mode="after")
    def _format_fits_modality(self) -> SourceConfig:
        media = self.modality in MEDIA_MODALITIES
        if self.format in MEDIA_ONLY_FORMATS and not media:
            raise ValueError(f"format {self.format} is for image, audio and video sources")
        if self.format == "warc" and self.modality != "text":
            raise ValueError("format warc is for text sources")
        if media and self.format in TEXT_ONLY_FORMATS:
            raise ValueError("image, audio and video sources read files, webdataset or parquet")
        return self
