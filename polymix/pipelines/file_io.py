"""Atomic file publication through Beam's FileSystems (local, gs://, mem:// alike).

ArrayRecord and gzip writers need a real local file, so a part is written to
worker-local scratch first, then copied next to its final name and renamed into
place: a reader never sees a half-written file, and a retried bundle overwrites.
"""

from __future__ import annotations

import os
import shutil
import uuid

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


def join(*parts: str) -> str:
    return FileSystems.join(*parts) if "://" in parts[0] else os.path.join(*parts)


def ensure_dir(path: str) -> None:
    """mkdir -p that tolerates a concurrent worker creating the same folder first."""
    try:
        FileSystems.mkdirs(path)
    except OSError:
        if not FileSystems.exists(path):
            raise


def publish(local_path: str, final_path: str) -> None:
    """Move a finished local file to `final_path` atomically (rename within the target FS)."""
    ensure_dir(final_path.rsplit("/", 1)[0])
    temporary = f"{final_path}.tmp-{uuid.uuid4().hex}"
    with (
        open(local_path, "rb") as src,
        FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as dst,
    ):
        shutil.copyfileobj(src, dst, 1 << 20)
    if FileSystems.exists(final_path):
        FileSystems.delete([final_path])
    FileSystems.rename([temporary], [final_path])


def write_bytes(path: str, data: bytes) -> None:
    """Small files (manifest, tokenizer copy): same atomic rename, no scratch file needed."""
    ensure_dir(path.rsplit("/", 1)[0])
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([temporary], [path])


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return handle.read()
