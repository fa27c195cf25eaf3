"""Reading a run's files where they are: the local disk, or a bucket through Beam.

Local paths use the standard library, so the trainer and `polymix verify` on a local run
never import Beam. A path with a scheme (`gs://`, `mem://`) goes through Beam's
`FileSystems`, imported only then: the same code reads a run in a bucket without copying
it down first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from polymix.core.manifest.paths import is_remote

CHUNK = 1 << 20


def _filesystems():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


@contextmanager
def open_binary(path: str) -> Iterator[BinaryIO]:
    """The raw bytes of `path`; FileNotFoundError when it is not there."""
    if not is_remote(path):
        with open(path, "rb") as handle:
            yield handle
        return
    filesystems = _filesystems()
    if not filesystems.exists(path):
        raise FileNotFoundError(path)
    with filesystems.open(path, compression_type="uncompressed") as handle:
        yield handle


def read_bytes(path: str) -> bytes:
    with open_binary(path) as handle:
        return handle.read()


def size(path: str) -> int | None:
    """Size in bytes, or None when there is no such file."""
    if not is_remote(path):
        return os.path.getsize(path) if os.path.isfile(path) else None
    filesystems = _filesystems()
    if not filesystems.exists(path):
        return None
    found = filesystems.match([path])[0].metadata_list
    exact = [m.size_in_bytes for m in found if m.path == path]
    return exact[0] if exact else None


def chunks(path: str) -> Iterator[bytes]:
    with open_binary(path) as handle:
        while block := handle.read(CHUNK):
            yield block


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    for block in chunks(os.fspath(path)):
        digest.update(block)
    return digest.hexdigest()
