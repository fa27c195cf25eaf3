"""Atomic file publication through Beam's FileSystems (local, gs:// and any other Beam scheme).

ArrayRecord and gzip writers need a real local file, so a part is written to
worker-local scratch first, then copied next to its final name and renamed into
place: a reader never sees a half-written file, and a retried bundle overwrites.
A copy that fails (a full disk, a lost connection) removes its temporary object
before the error travels on, so no `*.tmp-*` file outlives a failed write; a full
disk is re-raised as `ENOSPC` naming the file, which the launcher turns into one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Callable
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from polymix.core.errors import UserFacingError


def is_remote(path: str) -> bool:
    return "://" in path


def join(*parts: str) -> str:
    return FileSystems.join(*parts) if is_remote(parts[0]) else os.path.join(*parts)


def ensure_dir(path: str) -> None:
    """mkdir -p that tolerates a concurrent worker creating the same folder first."""
    try:
        FileSystems.mkdirs(path)
    except OSError:
        if not FileSystems.exists(path):
            raise


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _discard(path: str) -> None:
    with contextlib.suppress(Exception):  # the write's own error is the one worth reporting
        FileSystems.delete([path])


def _write_atomically(final_path: str, fill: Callable[[BinaryIO], None]) -> None:
    ensure_dir(final_path.rsplit("/", 1)[0])
    temporary = f"{final_path}.tmp-{uuid.uuid4().hex}"
    try:
        with FileSystems.create(
            temporary, compression_type=CompressionTypes.UNCOMPRESSED
        ) as handle:
            fill(handle)
        if FileSystems.exists(final_path):
            FileSystems.delete([final_path])
        FileSystems.rename([temporary], [final_path])
    except BaseException as exc:
        _discard(temporary)
        if is_disk_full(exc) or "No space left on device" in str(exc):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), final_path) from exc
        raise


def publish(local_path: str, final_path: str) -> None:
    """Move a finished local file to `final_path` atomically (rename within the target FS)."""
    with open(local_path, "rb") as src:
        _write_atomically(final_path, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))


def write_bytes(path: str, data: bytes) -> None:
    """Small files (manifest, tokenizer copy): same atomic rename, no scratch file needed."""
    _write_atomically(path, lambda handle: handle.write(data))


def gcs_bucket(path: str):
    """(bucket, object name) of a gs:// path, through the storage client Beam itself builds."""
    from apache_beam.io.gcp.gcsio import GcsIO, parse_gcs_path

    bucket, name = parse_gcs_path(path)
    return GcsIO().client.bucket(bucket), name


def replace_small_file(path: str, data: bytes) -> None:
    """Replace `path` so that a reader sees the old bytes or the new, never neither.

    Locally: a temporary file beside it, then `os.replace` (one atomic rename, where
    delete-then-rename would leave a moment without the file). On gs://: one object
    upload (a single multipart request up to 8 MiB); GCS serves the previous generation
    until the new one is complete, and no second object is ever written. Other Beam
    schemes: the temporary name and a rename.
    """
    if path.startswith("gs://"):
        bucket, name = gcs_bucket(path)
        bucket.blob(name).upload_from_string(data, content_type="application/json")
        return
    if is_remote(path):
        write_bytes(path, data)
        return
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex}")
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if is_disk_full(exc):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path) from exc
        raise


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()


class StorageFull(UserFacingError):
    """The device or bucket holding a location has no room left; nothing half-written stays."""
