"""Reading the top level: one file, validated whole before anything it names is opened."""

from __future__ import annotations

import json
import os

from pydantic import ValidationError

from polymix.core.manifest.entries import ManifestError, ManifestRefused, one_line
from polymix.core.manifest.paths import join, manifest_location
from polymix.core.manifest.schema import SCHEMA_VERSION, Manifest
from polymix.core.manifest.storage import read_bytes


def parse_manifest(text: str, *, origin: str = "manifest", folder: str | None = None) -> Manifest:
    """Validate top-level text from anywhere; `folder` is the one the file is in.

    The manifest comes back bound to `folder` joined with its `data` prefix: the one
    place a reader learns where the run's files are.
    """
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{origin} is not valid JSON: {exc}") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{origin}: schema_version {version!r} is not understood (this polymix reads "
            f"{SCHEMA_VERSION}); re-run `polymix run` with this version, or use the polymix "
            "that wrote it"
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise ManifestRefused(f"{origin}: {one_line(exc)}") from None
    if folder is None:
        return manifest
    return manifest.bound_to(join(folder, manifest.data) if manifest.data else folder)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The top level of `path` (a manifest.json, a run folder, or a gs:// URL of either)."""
    file, folder = manifest_location(path)
    try:
        data = read_bytes(file)
    except (FileNotFoundError, IsADirectoryError):
        raise ManifestError(f"no manifest at {file}") from None
    except OSError as exc:
        raise ManifestError(f"{file} cannot be read ({exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{file} is not UTF-8 text") from None
    return parse_manifest(text, origin=file, folder=folder)
