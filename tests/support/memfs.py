"""An in-memory Beam FileSystem (`mem://`), standing in for gs:// in tests.

Beam's Python SDK has no in-memory filesystem (the Java SDK's `mem://` has no Python
twin), so this is the smallest one that honours the `FileSystem` contract the
pipeline relies on: create, open, match, rename, delete. Objects live in one
process, so it works with the in-process DirectRunner only.
"""

from __future__ import annotations

import io
import time

from apache_beam.io.filesystem import (
    CompressedFile,
    CompressionTypes,
    FileMetadata,
    FileSystem,
    MatchResult,
)

OBJECTS: dict[str, bytes] = {}


class _Writer(io.BytesIO):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            OBJECTS[self.path] = self.getvalue()
        super().close()


class InMemoryFileSystem(FileSystem):
    @classmethod
    def scheme(cls) -> str:
        return "mem"

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        pass  # object stores have no folders

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        for path, data in sorted(OBJECTS.items()):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(data), time.time())

    def match(self, patterns, limits=None):
        limits = limits or [None] * len(patterns)
        results = []
        for pattern, limit in zip(patterns, limits, strict=True):
            prefix = pattern.split("*", 1)[0]
            found = self.match_files(list(self._list(prefix)), pattern)
            results.append(MatchResult(pattern, list(found)[:limit] if limit else list(found)))
        return results

    def _wrap(self, raw, path, compression_type, mode):
        compression = FileSystem._get_compression_type(path, compression_type)
        if compression == CompressionTypes.UNCOMPRESSED:
            return raw
        return (
            CompressedFile(raw, compression_type=compression)
            if mode == "r"
            else CompressedFile(raw, compression)
        )

    def create(
        self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO
    ):
        return self._wrap(_Writer(path), path, compression_type, "w")

    def open(
        self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO
    ):
        if path not in OBJECTS:
            raise FileNotFoundError(path)
        return self._wrap(io.BytesIO(OBJECTS[path]), path, compression_type, "r")

    def copy(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            OBJECTS[dst] = OBJECTS[src]

    def rename(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            OBJECTS[dst] = OBJECTS.pop(src)

    def exists(self, path: str) -> bool:
        return path in OBJECTS or any(p.startswith(path.rstrip("/") + "/") for p in OBJECTS)

    def size(self, path: str) -> int:
        return len(OBJECTS[path])

    def last_updated(self, path: str) -> float:
        return time.time()

    def checksum(self, path: str) -> str:
        return str(hash(OBJECTS[path]))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, len(OBJECTS[path]), time.time())

    def delete(self, paths) -> None:
        for path in paths:
            doomed = [p for p in OBJECTS if p == path or p.startswith(path.rstrip("/") + "/")]
            for p in doomed:
                del OBJECTS[p]
