"""The index's entries and the manifest's errors: what both layers of the manifest name.

Below the top level (`schema.py`) and the index reader (`index.py`), so each imports
these and neither imports the other's file to get them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polymix.core.errors import UserFacingError
from polymix.core.manifest.paths import RelativePath

IndexKind = Literal["shards", "eval", "rejected", "duplicates"]
Split = Literal["train", "eval"]
SideKind = Literal["rejected", "duplicates"]
Count = Annotated[int, Field(ge=0)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ManifestError(UserFacingError, ValueError):
    """A manifest or a file it names that the reader must refuse; the message names the culprit."""


class ManifestRefused(ManifestError):
    """An entry no pipeline writes (a path leaving the run, a field out of range): never used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShardInfo(_Strict):
    """One index line of kind `shards`."""

    path: RelativePath
    source: str
    modality: str
    records: Count
    tokens: int = Field(ge=0, description="sequence positions the records occupy")
    bytes: Count
    sha256: Sha256
    positions: dict[str, int] = Field(
        default_factory=dict, description="`tokens` split by kind: text, image, audio"
    )
    split: Split = Field(
        "train", description="eval: held-out records, listed apart so training never reads them"
    )

    @property
    def kind(self) -> IndexKind:
        """The index this entry belongs in: held-out shards have their own."""
        return "eval" if self.split == "eval" else "shards"


class SideFileInfo(_Strict):
    """One index line of kind `rejected` or `duplicates`: a part under that folder."""

    path: RelativePath
    kind: SideKind
    source: str
    stage: str
    reason: str = Field("", description="rejection reason; empty for duplicates")
    lines: int = Field(ge=0, description="examples in the file, one JSON line each")
    bytes: Count
    sha256: Sha256

    @property
    def folder(self) -> str:
        """`rejected/<source>/<stage>/<reason>` or `duplicates/<source>/<stage>`."""
        parts = [self.kind, self.source, self.stage] + ([self.reason] if self.reason else [])
        return "/".join(parts)


class IndexFileInfo(_Strict):
    """One index file, as the top level lists it: where, what, how many, which bytes."""

    path: RelativePath
    kind: IndexKind
    source: str
    entries: Count
    bytes: Count
    sha256: Sha256


def one_line(exc: ValidationError) -> str:
    """pydantic's several-line report as one line: field location and message per error."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "value"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
