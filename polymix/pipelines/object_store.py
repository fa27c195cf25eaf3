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
lists with `folder/**`, and checks its own result.

Deleting many files (`delete_files`) takes a stream of exact names, cut into batches of
100 (one GCS batch request each, `GcsIO.delete_batch`, which does not look a name up
first as `FileSystems.delete` does) sent from `DELETE_THREADS` threads, each with its
own client; at most two batches per thread are in flight, so memory stays at ~3,200
names whatever the stream's length. `iter_files` streams a prefix listing page by
page (1,000 names a request on GCS) instead of gathering it.

Sizes at 1 PB (~2.5x10^6 shards, ~1.3x10^7 side files): a listing of a whole slot is
~1.6x10^7 names, ~1.6x10^4 list requests made one after another; `list_files`
gathers its result, so it is kept for small folders (a report, a test), and nothing
on the launcher lists a published run (`polymix.slot_deletion` deletes one by its index).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

from polymix.pipelines.file_io import ensure_dir, gcs_bucket, is_remote

RENAME_CHUNK = 1000  # GCS turns each chunk into batches of 100 rewrites and deletes
DELETE_BATCH = 100  # names per GCS batch request (`gcsio.MAX_BATCH_OPERATION_SIZE`)
DELETE_THREADS = 16
LIST_PAGE = 1000  # names per GCS list request, its maximum


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
    return bool(list_some(path, 1))  # one name asked for, however large the prefix


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


def list_some(folder: str, limit: int) -> list[str]:
    """Up to `limit` files under `folder/`: one list request on GCS, however many there are."""
    if folder.startswith("gs://"):
        bucket, prefix = gcs_bucket(child(folder, ""))
        blobs = bucket.client.list_blobs(bucket, prefix=prefix, max_results=limit)
        return [f"gs://{bucket.name}/{blob.name}" for blob in blobs]
    if is_remote(folder):
        return [m.path for m in FileSystems.match([child(folder, "**")], [limit])[0].metadata_list]
    return list(itertools.islice(iter_files(folder), limit))


def iter_files(folder: str) -> Iterator[str]:
    """Every file under `folder/`, streamed in no particular order (one page in memory)."""
    if folder.startswith("gs://"):
        bucket, prefix = gcs_bucket(child(folder, ""))
        blobs = bucket.client.list_blobs(
            bucket, prefix=prefix, page_size=LIST_PAGE, fields="items(name),nextPageToken"
        )
        for blob in blobs:
            yield f"gs://{bucket.name}/{blob.name}"
    elif is_remote(folder):
        yield from list_files(folder)  # schemes without a paged listing in Beam
    else:
        for parent, _, files in os.walk(folder):
            for name in files:
                yield os.path.join(parent, name)


@dataclass
class Deleted:
    """What `delete_files` did: names asked for (absent ones count as deleted) and failures."""

    asked: int = 0
    failures: int = 0
    examples: list[str] = field(default_factory=list)  # the first few, "name (why)"

    def add(self, asked: int, failed: list[str]) -> None:
        self.asked += asked
        self.failures += len(failed)
        self.examples += failed[: max(0, 3 - len(self.examples))]


_clients = threading.local()


def _gcs_delete(names: list[str]) -> list[str]:
    from apache_beam.io.gcp.gcsio import GcsIO

    if not hasattr(_clients, "gcs"):
        _clients.gcs = GcsIO()  # a storage client's batch is not shared between threads
    statuses = _clients.gcs.delete_batch(names)  # a missing object is not an error
    return [f"{name} (HTTP {code})" for name, code in statuses if code]


def _local_delete(names: list[str]) -> list[str]:
    failed = []
    for name in names:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            failed.append(f"{name} ({exc.strerror or exc})")
    return failed


def _beam_delete(names: list[str]) -> list[str]:
    try:
        FileSystems.delete(names)
    except Exception:  # noqa: BLE001  (BeamIOError lists the names; absent ones are fine)
        return [f"{name} (still there)" for name in names if FileSystems.exists(name)]
    return []


def _delete_batch(names: list[str]) -> list[str]:
    """The names of `names` that could not be deleted, each with why."""
    try:
        if names[0].startswith("gs://"):
            return _gcs_delete(names)
        return _beam_delete(names) if is_remote(names[0]) else _local_delete(names)
    except Exception as exc:  # noqa: BLE001  (a whole batch refused: every name failed)
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [f"{name} ({why})" for name in names]


def _batches(names: Iterable[str], size: int) -> Iterator[list[str]]:
    stream = iter(names)
    while batch := list(itertools.islice(stream, size)):
        yield batch


def delete_files(names: Iterable[str], *, threads: int = DELETE_THREADS) -> Deleted:
    """Delete exactly these files, in batches from parallel threads; never raises for one."""
    result = Deleted()
    pending: set[Future] = set()

    def collect(done: set[Future]) -> None:
        for future in done:
            asked, failed = future.result()
            result.add(asked, failed)

    with ThreadPoolExecutor(threads) as pool:
        for batch in _batches(names, DELETE_BATCH):
            if len(pending) >= 2 * threads:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
            pending.add(pool.submit(lambda b: (len(b), _delete_batch(b)), batch))
        collect(wait(pending).done)
    return result


def prune_empty_tree(folder: str) -> None:
    """Remove the empty local folders under and at `folder` (object stores have none)."""
    if is_remote(folder) or not os.path.isdir(folder):
        return
    for parent, _, _ in os.walk(folder, topdown=False):
        with contextlib.suppress(OSError):  # not empty: it holds a file
            os.rmdir(parent)
