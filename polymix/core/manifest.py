"""`manifest.json`: the one contract between the data half and the training half.

This module is a leaf (stdlib, pydantic, array_record only): the pipeline writes a
`Manifest`, the trainer and `polymix verify` read one, and neither needs the other.
A reader refuses a schema version it does not know and any shard whose size,
checksum or record count disagrees with what was written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from polymix.core.errors import UserFacingError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShardInfo(_Strict):
    path: str = Field(description="relative to the manifest's folder")
    source: str
    modality: str
    records: int
    tokens: int = Field(description="sequence positions the records occupy")
    bytes: int
    sha256: str
    positions: dict[str, int] = Field(
        default_factory=dict, description="`tokens` split by kind: text, image, audio"
    )


class TokenizerInfo(_Strict):
    path: str
    sha256: str
    vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int
    specials: dict[str, int] = Field(default_factory=dict, description="media marker ids")


class SourceTotals(_Strict):
    """Accounting for one source: every input example ends in exactly one bucket."""

    modality: str
    weight: float
    input: int = 0
    kept: int = 0
    records: int = 0
    tokens: int = 0
    duplicates: dict[str, int] = Field(default_factory=dict, description="by stage")
    rejected: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="stage -> reason -> n"
    )
    modified: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="stage -> change -> n"
    )
    positions: dict[str, int] = Field(
        default_factory=dict, description="kept sequence positions by kind: text, image, audio"
    )

    @property
    def duplicates_total(self) -> int:
        return sum(self.duplicates.values())

    @property
    def rejected_total(self) -> int:
        return sum(n for reasons in self.rejected.values() for n in reasons.values())

    def balances(self) -> bool:
        return self.input == self.kept + self.duplicates_total + self.rejected_total


class Manifest(_Strict):
    schema_version: int = SCHEMA_VERSION
    polymix_version: str
    config_hash: str
    max_seq_len: int
    tokenizer: TokenizerInfo | None = None
    minhash: dict[str, Any] | None = None
    shards: list[ShardInfo]
    sources: dict[str, SourceTotals]
    mixture: dict[str, float] = Field(
        default_factory=dict, description="planned share of training positions per source"
    )
    plan: dict[str, Any] | None = Field(None, description="the mixture plan behind `mixture`")
    side_outputs: list[str] = Field(
        default_factory=list, description="rejected/ and duplicates/ files"
    )
    warnings: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        """Canonical text: identical runs must write identical bytes."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


class ManifestError(UserFacingError, ValueError):
    """A manifest or shard the reader must refuse; the message names the culprit."""


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ManifestError(f"no manifest at {path}") from exc
    return parse_manifest(text, origin=str(path))


def parse_manifest(text: str, *, origin: str = "manifest") -> Manifest:
    """Validate manifest text from anywhere (a local file, gs://, mem://)."""
    path = origin
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: schema_version {version!r} is not understood (this polymix reads {SCHEMA_VERSION})"
        )
    try:
        return Manifest.model_validate(raw)
    except ValueError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_shard(root: Path, shard: ShardInfo, *, count_records: bool = True) -> None:
    """Raise `ManifestError` naming the shard if it is missing, resized, altered or short."""
    path = root / shard.path
    if not path.is_file():
        raise ManifestError(f"shard {shard.path}: missing")
    size = path.stat().st_size
    if size != shard.bytes:
        raise ManifestError(
            f"shard {shard.path}: {size} bytes on disk, manifest says {shard.bytes}"
        )
    digest = sha256_file(path)
    if digest != shard.sha256:
        raise ManifestError(f"shard {shard.path}: sha256 {digest} does not match the manifest")
    if count_records:
        from array_record.python.array_record_module import ArrayRecordReader

        reader = ArrayRecordReader(str(path))
        try:
            n = reader.num_records()
        finally:
            reader.close()
        if n != shard.records:
            raise ManifestError(f"shard {shard.path}: {n} records, manifest says {shard.records}")


def verify_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Load and re-check every shard and the accounting; raise on the first failure."""
    path = Path(path)
    manifest = load_manifest(path)
    root = path if path.is_dir() else path.parent
    for shard in manifest.shards:
        verify_shard(root, shard)
    for name, totals in manifest.sources.items():
        if not totals.balances():
            raise ManifestError(
                f"source {name}: input {totals.input} != kept {totals.kept} + duplicates "
                f"{totals.duplicates_total} + rejected {totals.rejected_total}"
            )
    return manifest
