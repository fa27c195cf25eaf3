"""The one config schema. `load_config` validates a YAML file before any work starts.

Sections live in their own modules (one job each) and are composed here. This
package is a leaf: it imports only pydantic and yaml, so pipelines and the trainer
can take a section object without reaching up into the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from polymix.core.config.base import Section
from polymix.core.config.eval import EvalConfig
from polymix.core.config.filters import FiltersConfig
from polymix.core.config.media import MediaConfig
from polymix.core.config.mixture import MixtureConfig
from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.config.read import ReadConfig
from polymix.core.config.shards import ShardsConfig
from polymix.core.config.sources import SourceConfig
from polymix.core.config.text import ExactDedupConfig, NormalizeConfig
from polymix.core.config.tokenizer import TokenizerConfig
from polymix.core.config.web import UrlFilterConfig
from polymix.core.errors import UserFacingError
from polymix.core.overrides import apply_to_mapping


class Config(Section):
    seed: int = Field(0, description="Seed for every random choice the pipeline makes.")
    sources: list[SourceConfig] = Field(min_length=1, description="Input sources.")
    read: ReadConfig = Field(
        default_factory=ReadConfig,
        description="Bounds on what one JSONL/Parquet line, document or file may cost a worker.",
    )
    normalize: NormalizeConfig = Field(
        default_factory=NormalizeConfig, description="Text normalization, before any hashing."
    )
    url_filter: UrlFilterConfig = Field(
        default_factory=UrlFilterConfig,
        description="URL block list (domains, URL substrings), applied right after reading.",
    )
    exact_dedup: ExactDedupConfig = Field(
        default_factory=ExactDedupConfig, description="Exact duplicates (runs first)."
    )
    near_dedup: NearDedupConfig = Field(
        default_factory=NearDedupConfig,
        description="Near duplicates: MinHash LSH, clusters formed on Beam (after exact dedup).",
    )
    tokenizer: TokenizerConfig = Field(
        default_factory=TokenizerConfig, description="SentencePiece tokenizer."
    )
    shards: ShardsConfig = Field(default_factory=ShardsConfig, description="Output layout.")
    filters: FiltersConfig = Field(
        default_factory=FiltersConfig,
        description="Quality filters: heuristic rules and fastText classifiers.",
    )
    media: MediaConfig = Field(default_factory=MediaConfig, description="Images, audio and video.")
    eval: EvalConfig = Field(
        default_factory=EvalConfig,
        description="Held-out split: kept examples written to eval shards, never trained on.",
    )
    mixture: MixtureConfig = Field(
        default_factory=MixtureConfig,
        description="Mixture planning: budget, epoch caps, modality weights.",
    )
    base_dir: str = Field(
        ".",
        description="Folder that relative paths are resolved against (set to the config's folder on load).",
        exclude=True,
    )

    @model_validator(mode="after")
    def _unique_sources(self) -> Config:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self

    def resolve(self, path: str) -> str:
        """A config path as the pipeline should open it (relative to the config file).

        A config read from a bucket resolves its relative paths in that bucket, so one
        config file serves a corpus wherever the corpus and the config sit together.
        """
        if "://" in path or os.path.isabs(path):
            return path
        if "://" in self.base_dir:
            scheme, rest = self.base_dir.split("://", 1)
            return f"{scheme}://{posixpath.normpath(posixpath.join(rest, path))}"
        return os.path.normpath(os.path.join(self.base_dir, path))

    def fingerprint(self) -> str:
        """sha256 of the canonical settings: recorded in the manifest to tie output to config.

        Take it from the config as loaded: paths as written (relative to the config file),
        `base_dir` left out, so the same corpus and config give the same hash from any
        folder. A config whose paths were made absolute hashes differently.
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ConfigError(UserFacingError, ValueError):
    """A config that fails validation; the message names each bad key and what was expected."""


def _key_path(loc: tuple[Any, ...], raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            entry = node[item]
            name = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"[{item}]" + (f"({name})" if name else ""))
            node = entry
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def parse_config(raw: Any, *, base_dir: str = ".", origin: str = "config") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{origin}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        return Config.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = _key_path(tuple(error["loc"]), raw) or "(top level)"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (check its spelling; `polymix init` lists every key)"
            got = error.get("input")
            shown = "" if error["type"] in ("missing", "extra_forbidden") else f" (got {got!r})"
            lines.append(f"  {key}: {message}{shown}")
        raise ConfigError(f"{origin} is invalid:\n" + "\n".join(lines)) from None


def load_config(
    path: str | os.PathLike[str],
    read_remote: Callable[[str], bytes] | None = None,
    overrides: Sequence[str] = (),
) -> Config:
    """The config at `path`, with `dotted.key=value` overrides set before validation (so
    the config hash covers them); a `scheme://` path is read with `read_remote` (Beam's
    FileSystems in the CLI, which this package does not import)."""
    if isinstance(path, str) and "://" in path:
        if read_remote is None:
            raise ConfigError(f"config file {path}: no reader for remote paths given")
        try:
            text = read_remote(path).decode("utf-8")
        except Exception as exc:  # noqa: BLE001  (any filesystem's "not found" or denial)
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        return _parse_text(text, base_dir=path.rsplit("/", 1)[0], origin=path, overrides=overrides)
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    base_dir = str(path.resolve().parent)
    return _parse_text(text, base_dir=base_dir, origin=str(path), overrides=overrides)


def _parse_text(text: str, *, base_dir: str, origin: str, overrides: Sequence[str]) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from None
    if overrides and isinstance(raw, dict):
        raw = apply_to_mapping(raw, overrides)
        origin = f"{origin} with {' '.join(overrides)}"
    return parse_config(raw, base_dir=base_dir, origin=origin)


__all__ = ["Config", "ConfigError", "ReadConfig", "SourceConfig", "load_config", "parse_config"]
