"""The top level of the manifest, field by field (the index's entries: `entries.py`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import Field, PrivateAttr

from polymix.core.manifest.entries import (
    Count,
    IndexFileInfo,
    ManifestError,
    Sha256,
    ShardInfo,
    SideFileInfo,
    SideKind,
    _Strict,
)
from polymix.core.manifest.index import read_index_file
from polymix.core.manifest.paths import RelativePath

# 2: shards and side files moved from the top level into a checksummed index.
# 3: `data` names the folder the run's files are in (a run's slot), relative to the manifest.
SCHEMA_VERSION = 3


class TokenizerInfo(_Strict):
    path: RelativePath
    sha256: Sha256
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
    eval_records: Count = Field(0, description="records of kept examples held out for eval")
    eval_tokens: Count = Field(0, description="positions of the held-out records")

    @property
    def duplicates_total(self) -> int:
        return sum(self.duplicates.values())

    @property
    def rejected_total(self) -> int:
        return sum(n for reasons in self.rejected.values() for n in reasons.values())

    def balances(self) -> bool:
        return self.input == self.kept + self.duplicates_total + self.rejected_total


class Manifest(_Strict):
    """The top level: small at any corpus size; shards and side files live in `index`.

    `data` is where every other path in the manifest and its index is relative to: a
    folder under the manifest's own (`polymix run` names the slot it wrote, `data-a` or
    `data-b`), confined like every path; absent, the manifest's folder itself (a slot's
    own copy, corpora written by `write_manifest`). Publishing a run is writing this
    file with `data` naming the new slot, so its index never says which slot it is in.
    """

    schema_version: int = SCHEMA_VERSION
    data: RelativePath | None = Field(
        None, description="folder of the run's files, relative to this file's folder"
    )
    polymix_version: str
    config_hash: str
    max_seq_len: int
    tokenizer: TokenizerInfo | None = None
    minhash: dict[str, Any] | None = None
    media: dict[str, Any] | None = Field(None, description="patch size, mel bins, frame stack")
    sources: dict[str, SourceTotals]
    mixture: dict[str, float] = Field(
        default_factory=dict, description="planned share of training positions per source"
    )
    plan: dict[str, Any] | None = Field(None, description="the mixture plan behind `mixture`")
    index: list[IndexFileInfo] = Field(
        default_factory=list, description="index files of shards and side files"
    )
    warnings: list[str] = Field(default_factory=list)

    _root: str | None = PrivateAttr(None)

    def to_json(self) -> str:
        """Canonical text: identical runs must write identical bytes."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    def bound_to(self, root: str) -> Manifest:
        """This manifest, reading its index and files under `root` (a folder or URL prefix).

        `root` is where the paths are relative to: the manifest's folder joined with
        `data` (`load_manifest` does that), or any copy of that folder.
        """
        bound = self.model_copy()
        bound._root = str(root)
        return bound

    @property
    def root(self) -> str:
        if self._root is None:
            raise ManifestError("this manifest was not loaded from a folder; use load_manifest")
        return self._root

    @property
    def shard_count(self) -> int:
        return sum(f.entries for f in self.index if f.kind == "shards")

    def index_files(self, kind: str, source: str | None = None) -> list[IndexFileInfo]:
        return [f for f in self.index if f.kind == kind and source in (None, f.source)]

    def shards(self, source: str | None = None) -> Iterator[ShardInfo]:
        """Stream the shard entries (of one source), one index file in memory at a time."""
        for info in self.index_files("shards", source):
            yield from read_index_file(self.root, info)  # type: ignore[misc]

    def eval_shards(self, source: str | None = None) -> Iterator[ShardInfo]:
        """The held-out shards (of one source): never part of `shards`, so never trained on."""
        for info in self.index_files("eval", source):
            yield from read_index_file(self.root, info)  # type: ignore[misc]

    def side_files(
        self, source: str | None = None, kind: SideKind | None = None
    ) -> Iterator[SideFileInfo]:
        for info in self.index:
            if (
                info.kind not in ("shards", "eval")
                and kind in (None, info.kind)
                and source in (None, info.source)
            ):
                yield from read_index_file(self.root, info)  # type: ignore[misc]
