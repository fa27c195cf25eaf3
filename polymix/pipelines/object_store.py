"""Folder-like operations that mean the same on a local disk and on an object store.

On gs:// there are no folders, only object names sharing a prefix, and Beam's
`FileSystems` calls differ in ways that lose data silently:

- `exists("gs://b/out/shards")` asks for an object named exactly `out/shards`, which
  never exists, so "is there a previous run?" answers no;
- `delete(["gs://b/out/shards"])` matches that one name and deletes nothing, while
  `delete(["gs://b/out/shards/"])` lists the prefix and deletes every object under it
  (but only logs, never raises, the objects it failed to delete), and without the
  trailing slash a prefix would also match `out/shards-old/...`;
- locally `delete([folder])` is `shutil.rmtree` and a folder rename moves everything.

So every operation here takes a *folder path* and works on `folder/` with the slash,
lists with `folder/**`, and checks its own result. Sizes at 1 PB (~2x10^6 shards of
128 MiB and ~4x10^6 side parts of 64 MiB): a listing of one top-level folder is
~6x10^6 names (~1.5 GB of metadata at worst) on the launcher, one folder at a time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from polymix.pipelines.file_io import ensure_dir, is_remote

RENAME_CHUNK = 1000  # GCS turns each chunk into batches of 100 rewrites and deletes


def child(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}"


def is_file(path: str) -> bool:
    """An object or file with exactly this name (not a folder)."""
    if is_remote(path):
        return FileSystems.exists(path)
    return os.path.isfile(path)


def list_files(folder: str) -> list[str]:
    """Every file under `folder/` (recursively), sorted; empty when there is none."""
    if not is_remote(folder) and not os.path.isdir(folder):
        return []
    pattern = child(folder, "**")
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def has_any(path: str) -> bool:
    """A file named `path`, or at least one file under `path/`."""
    if is_file(path):
        return True
    if not is_remote(path):
        return os.path.isdir(path) and any(files for _, _, files in os.walk(path))
    return bool(FileSystems.match([child(path, "**")], limits=[1])[0].metadata_list)


def top_level_names(folder: str) -> list[str]:
    """Names directly under `folder` that hold at least one file (folders or files)."""
    names = {path[len(folder.rstrip("/")) + 1 :].split("/", 1)[0] for path in list_files(folder)}
    return sorted(names)


def delete_file(path: str) -> None:
    if is_file(path):
        FileSystems.delete([path])


def delete_tree(path: str) -> None:
    """Delete the file `path` or everything under `path/`; raise if anything is left."""
    delete_file(path)
    if is_remote(path):
        FileSystems.delete([child(path, "")])
        left = list_files(path)
        if left:
            raise OSError(f"could not delete {len(left)} object(s) under {path}/, e.g. {left[0]}")
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def move_tree(source: str, target: str) -> None:
    """Move the file or folder `source` to `target`, which must not hold anything yet.

    Locally that is one rename. On an object store every object is copied and deleted
    (a same-bucket copy is a metadata rewrite, not a data copy), in chunks.
    """
    if not is_remote(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)
        return
    if is_file(source):
        FileSystems.rename([source], [target])
        return
    sources = list_files(source)
    prefix = len(source.rstrip("/"))
    for chunk in _chunks(sources, RENAME_CHUNK):
        targets = [target.rstrip("/") + path[prefix:] for path in chunk]
        for folder in sorted({t.rsplit("/", 1)[0] for t in targets}):
            ensure_dir(folder)
        FileSystems.rename(chunk, targets)


def prune_empty_folder(path: str) -> None:
    """Remove a local folder left empty (object stores have none to remove)."""
    if not is_remote(path) and os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
