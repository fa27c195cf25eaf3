"""The `filters` section: which quality stages run for each modality, and every threshold they use.

Defaults are the published values (Gopher, C4, FineWeb, The Stack/StarCoder, CCNet/FineWeb
language ID), so an empty section reproduces the papers; change a number here, not in code.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from polymix.core import stages as registry
from polymix.core.config.base import Section
from polymix.core.config.decontaminate import DecontaminateConfig

IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")

WordSplitter = Literal["fast", "spacy"]
_WORDS_HELP = (
    "How words are split: 'fast' replays spaCy's English tokenizer rules from a snapshot "
    "(the same tokens, no spaCy needed); 'spacy' calls spaCy itself, as DataTrove does."
)


class GopherQualityConfig(Section):
    words: WordSplitter = Field("fast", description=_WORDS_HELP)
    min_words: int = Field(50, description="Reject documents with fewer words (Gopher: 50).")
    max_words: int = Field(
        100_000, description="Reject documents with more words (Gopher: 100,000)."
    )
    min_mean_word_length: float = Field(
        3, description="Reject below this mean word length (Gopher: 3)."
    )
    max_mean_word_length: float = Field(
        10, description="Reject above this mean word length (Gopher: 10)."
    )
    max_symbol_word_ratio: float = Field(
        0.1, description="Reject when '#' or ellipses per word exceed this (Gopher: 0.1)."
    )
    max_bullet_lines_ratio: float = Field(
        0.9, description="Reject when more lines than this start with a bullet (Gopher: 0.9)."
    )
    max_ellipsis_lines_ratio: float = Field(
        0.3, description="Reject when more lines than this end with an ellipsis (Gopher: 0.3)."
    )
    min_alpha_words_ratio: float = Field(
        0.8, description="Reject when fewer words than this contain a letter (Gopher: 0.8)."
    )
    min_stop_words: int = Field(
        2, description="Reject documents with fewer distinct stop words from the list (Gopher: 2)."
    )
    stop_words: list[str] = Field(
        ["the", "be", "to", "of", "and", "that", "have", "with"],
        description="Stop words counted by min_stop_words (Gopher's English list; case-sensitive).",
    )
    bullet_prefixes: list[str] = Field(
        ["•", "-"], description="Line prefixes that count as bullets (DataTrove's choice)."
    )


class GopherRepetitionConfig(Section):
    words: WordSplitter = Field("fast", description=_WORDS_HELP)
    max_dup_line_fraction: float = Field(
        0.3, description="Reject when more lines than this repeat an earlier line (Gopher: 0.30)."
    )
    max_dup_para_fraction: float = Field(
        0.3, description="Reject when more paragraphs than this repeat one (Gopher: 0.30)."
    )
    max_dup_line_char_fraction: float = Field(
        0.2, description="Reject when repeated lines hold more of the characters (Gopher: 0.20)."
    )
    max_dup_para_char_fraction: float = Field(
        0.2,
        description="Reject when repeated paragraphs hold more of the characters (Gopher: 0.20).",
    )
    max_top_ngram_char_fraction: dict[int, float] = Field(
        {2: 0.20, 3: 0.18, 4: 0.16},
        description="n -> maximum character fraction of the most frequent n-gram (Gopher).",
    )
    max_dup_ngram_char_fraction: dict[int, float] = Field(
        {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n -> maximum character fraction in repeated n-grams (Gopher).",
    )


class C4Config(Section):
    require_terminal_punct: bool = Field(
        True, description="Remove lines not ending in . ? ! \" ' (or ending in '...') (C4)."
    )
    min_words_per_line: int = Field(3, description="Remove lines with fewer words (C4: 3).")
    max_word_length: int = Field(
        1000, description="Remove lines holding a longer word; 0 turns the rule off (C4: 1000)."
    )
    remove_javascript_lines: bool = Field(
        True, description="Remove lines mentioning javascript (C4)."
    )
    remove_policy_lines: bool = Field(
        True, description="Remove lines about cookies, terms of use or privacy policies (C4)."
    )
    remove_citations: bool = Field(
        True, description="Delete Wikipedia-style citation marks like [1], [edit] (C4)."
    )
    reject_lorem_ipsum: bool = Field(
        True, description="Reject pages containing 'lorem ipsum' (C4)."
    )
    reject_curly_bracket: bool = Field(
        True, description="Reject pages containing '{' (C4: keeps code out of web text)."
    )
    min_sentences: int = Field(5, description="Reject pages with fewer sentences left (C4: 5).")
    words: WordSplitter = Field(
        "fast",
        description="Tokens behind the sentence count (spaCy's sentencizer rule on them): "
        "'fast' or 'spacy', as for the Gopher rules.",
    )


class FineWebConfig(Section):
    words: WordSplitter = Field("fast", description=_WORDS_HELP)
    min_terminal_punct_line_ratio: float = Field(
        0.12, description="Reject when fewer lines than this end in punctuation (FineWeb: 0.12)."
    )
    max_short_line_ratio: float = Field(
        0.67, description="Reject when more lines than this are short (FineWeb: 0.67)."
    )
    short_line_length: int = Field(
        30, description="A line this long or shorter is short (FineWeb: 30)."
    )
    max_dup_line_char_ratio: float = Field(
        0.01, description="Reject when repeated lines hold more of the characters (FineWeb: 0.01)."
    )
    max_newline_word_ratio: float = Field(
        0.3, description="Reject when newlines per word exceed this (FineWeb: 0.3)."
    )


class CodeConfig(Section):
    max_chars: int = Field(
        1_000_000, description="Reject files larger than this (The Stack: 1 MB)."
    )
    max_line_length: int = Field(
        1000, description="Reject files with a longer line (The Stack: 1000)."
    )
    max_mean_line_length: float = Field(
        100, description="Reject files with a longer mean line (The Stack: 100)."
    )
    min_alnum_fraction: float = Field(
        0.25, description="Reject files with fewer alphanumeric characters (The Stack: 0.25)."
    )
    reject_autogenerated: bool = Field(
        True, description="Reject files whose first lines say they are generated (StarCoder)."
    )
    autogenerated_header_lines: int = Field(
        5, description="How many leading lines are searched for the markers (StarCoder: 5)."
    )
    autogenerated_markers: list[str] = Field(
        [
            "auto-generated",
            "autogenerated",
            "automatically generated",
            "generated automatically",
            "this file is generated",
            "do not edit",
        ],
        description="Case-insensitive phrases marking generated code (StarCoder's list).",
    )
    max_encoded_chars: int = Field(
        1024, description="Reject files with more characters of base64/hex/escapes (StarCoder)."
    )
    max_encoded_fraction: float = Field(
        0.5, description="Reject files where encoded data is a larger share (StarCoder: 0.5)."
    )


class LanguageConfig(Section):
    keep: list[str] = Field(
        ["en"], description="ISO 639 codes to keep; empty keeps every language above min_score."
    )
    min_score: float = Field(
        0.65, description="Reject when the top language's probability is lower (FineWeb: 0.65)."
    )
    model_path: str | None = Field(
        None,
        description="fastText language-ID model; empty uses the lid.176.ftz installed with polymix.",
    )
    max_chars: int = Field(
        4000,
        description="Classify at most this many characters (see sample); 0 reads the whole text. "
        "4000 sampled lines: 3.3x less CPU, 99.7% of whole-text decisions on real text (README).",
    )
    sample: Literal["prefix", "lines"] = Field(
        "lines",
        description="What max_chars keeps: 'prefix', the leading characters, or 'lines', whole "
        "lines spread evenly through the document.",
    )


class QualityClassifierConfig(Section):
    model_path: str | None = Field(
        None, description="fastText model from `polymix classifier train` (required to run)."
    )
    label: str = Field("hq", description="The label whose probability is the quality score.")
    min_score: float = Field(0.5, description="Reject documents scoring below this.")
    max_chars: int = Field(
        0, description="Score only this many leading characters; 0 reads the whole text."
    )


class PIIConfig(Section):
    emails: bool = Field(True, description="Redact e-mail addresses.")
    ip_addresses: bool = Field(True, description="Redact IPv4 and IPv6 addresses.")
    phone_numbers: bool = Field(True, description="Redact phone numbers.")
    phone_regions: list[str] = Field(
        ["US"],
        description="Countries (ISO 3166, e.g. US, GB, DE) whose numbers written without a "
        "country code are recognised; '+' numbers are recognised for every country. Each match "
        "must be a valid number grouped as its country writes them (libphonenumber).",
    )
    public_ips_only: bool = Field(
        True,
        description="Redact only global unicast host addresses; private ones identify nobody "
        "(FineWeb).",
    )
    email_replacement: str = Field("|||EMAIL_ADDRESS|||", description="Placeholder for e-mails.")
    ip_replacement: str = Field("|||IP_ADDRESS|||", description="Placeholder for IP addresses.")
    phone_replacement: str = Field("|||PHONE_NUMBER|||", description="Placeholder for phones.")


class PluginConfig(Section):
    """A user stage: a class implementing `polymix.Stage`, named by import path, and its options.

    Only the path's shape is checked here; the class is imported where stages are built, so a
    config can be validated on a machine that does not have the user's package.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    import_path: str | None = Field(
        None,
        alias="class",
        description="The stage class as 'module:Class' (importable on every worker); empty "
        "takes the class an installed package registers under this name in the "
        "'polymix.stages' entry point group.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments the class is constructed with."
    )

    @field_validator("import_path")
    @classmethod
    def _looks_importable(cls, path: str | None) -> str | None:
        if path is not None and not IMPORT_PATH.fullmatch(path):
            raise ValueError(f"class {path!r} must be written 'module:Class'")
        return path


class StagesConfig(Section):
    text: list[str] = Field(
        ["language", "gopher_repetition", "gopher_quality", "c4", "fineweb", "pii"],
        description="Stages run, in order, on text sources (add quality_classifier with a model; "
        "a user stage by its name in filters.plugins or its entry point).",
    )
    code: list[str] = Field(["code", "pii"], description="Stages run, in order, on code sources.")

    @model_validator(mode="after")
    def _no_repeats(self) -> StagesConfig:
        for modality in ("text", "code"):
            stages = getattr(self, modality)
            repeated = sorted({s for s in stages if stages.count(s) > 1})
            if repeated:
                raise ValueError(f"{modality} lists stages more than once: {repeated}")
        return self


class FiltersConfig(Section):
    plugins: dict[str, PluginConfig] = Field(
        default_factory=dict,
        description="User stages by name: {class: 'module:Class', options: {...}}; list a name "
        "in stages.text or stages.code to run it.",
    )
    stages: StagesConfig = Field(
        default_factory=StagesConfig,
        description="Which stages run, in order, per modality; image, audio and video have none.",
    )
    language: LanguageConfig = Field(
        default_factory=LanguageConfig, description="fastText language identification."
    )
    gopher_repetition: GopherRepetitionConfig = Field(
        default_factory=GopherRepetitionConfig, description="Gopher repetition rules."
    )
    gopher_quality: GopherQualityConfig = Field(
        default_factory=GopherQualityConfig, description="Gopher quality rules."
    )
    c4: C4Config = Field(default_factory=C4Config, description="C4 line and page rules.")
    fineweb: FineWebConfig = Field(default_factory=FineWebConfig, description="FineWeb rules.")
    code: CodeConfig = Field(default_factory=CodeConfig, description="Code file rules.")
    quality_classifier: QualityClassifierConfig = Field(
        default_factory=QualityClassifierConfig, description="fastText quality classifier."
    )
    pii: PIIConfig = Field(default_factory=PIIConfig, description="PII redaction.")
    decontaminate: DecontaminateConfig = Field(
        default_factory=DecontaminateConfig,
        description="Documents sharing an n-gram with an eval set are removed (after the stages).",
    )

    @field_validator("plugins")
    @classmethod
    def _plugin_names(cls, plugins: dict[str, PluginConfig]) -> dict[str, PluginConfig]:
        for name in plugins:
            problem = registry.check_plugin_name(name)
            if problem:
                raise ValueError(problem)
        return plugins

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: StagesConfig, info: ValidationInfo) -> StagesConfig:
        """Names only: a user's class is imported where stages are built, not here."""
        plugins = info.data.get("plugins") or {}
        for modality in ("text", "code"):
            where = f"filters.stages.{modality}"
            problem = registry.unknown_stage(where, getattr(stages, modality), plugins)
            if problem:
                raise ValueError(problem)
        return stages

    @model_validator(mode="after")
    def _classifier_has_model(self) -> FiltersConfig:
        for modality in ("text", "code"):
            uses = "quality_classifier" in getattr(self.stages, modality)
            if uses and not self.quality_classifier.model_path:
                raise ValueError(
                    f"stages.{modality} runs quality_classifier but "
                    "quality_classifier.model_path is not set"
                )
        return self

    def stages_for(self, modality: str) -> list[str]:
        """Stage names for a source's modality; image, audio and video pass through untouched."""
        return list(getattr(self.stages, modality)) if modality in ("text", "code") else []

    def stage_config(self, stage: str) -> Section:
        """A built-in stage's section (user stages take `plugins[name]` instead)."""
        return getattr(self, stage)
