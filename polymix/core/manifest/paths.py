"""Paths inside a manifest: the only way a manifest may name a file.

A manifest is data from outside (a copied run, a bucket someone else writes to), so
every path it holds is checked when it is parsed, before anything is opened: it must
be relative to the manifest's own folder or bucket prefix and already normalised. Then
`join(root, path)` cannot leave the run, on a local disk or in a bucket alike: no
`/etc/passwd`, no `../other-run/`, no `gs://other-bucket/`, no `C:\\` or `\\` tricks.
The top level's `data` prefix (the slot holding the run's files) obeys the same rule,
so `join(join(folder, data), path)` stays under the manifest's folder too.
A colon after the first segment is an ordinary character (`error:ValueError` reasons).
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import AfterValidator

MANIFEST_NAME = "manifest.json"
_RULE = "manifest paths must be relative to the manifest's folder, normalised, without a scheme"


def is_remote(path: str) -> bool:
    """`gs://...`, `mem://...`: read through Beam's FileSystems rather than the local disk."""
    return "://" in path


def _why_not_relative(path: str) -> str | None:
    if not path:
        return "is empty"
    if path.startswith("/"):
        return "is absolute"
    if "\\" in path:
        return "holds a backslash"
    if "://" in path or ":" in path.split("/", 1)[0]:
        return "starts with a scheme or drive"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "holds a control character"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return f"has a {segment!r} segment" if segment else "has an empty segment"
    return None


def check_relative(path: str) -> str:
    """`path` unchanged if it stays inside the manifest's folder; else ValueError naming it."""
    reason = _why_not_relative(path)
    if reason is not None:
        raise ValueError(f"path {path!r} {reason}; {_RULE}")
    return path


RelativePath = Annotated[str, AfterValidator(check_relative)]


def join(root: str, relative: str) -> str:
    """`relative` (already checked) under `root`, which is a local folder or a URL prefix."""
    if is_remote(root):
        return f"{root.rstrip('/')}/{relative}"
    return os.path.join(root, *relative.split("/"))


def manifest_location(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(manifest file, the folder it is in) for a file or a run folder.

    The manifest's paths are relative to that folder joined with its `data` prefix,
    which only the file itself can say (`load.parse_manifest`).
    """
    text = os.fspath(path)
    if is_remote(text):
        file = text if text.endswith(".json") else f"{text.rstrip('/')}/{MANIFEST_NAME}"
        return file, file.rsplit("/", 1)[0]
    if os.path.isdir(text):
        text = os.path.join(text, MANIFEST_NAME)
    file = os.path.abspath(text)
    return file, os.path.dirname(file)
