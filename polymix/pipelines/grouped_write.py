"""Write items into numbered files per group, the same bytes whatever the worker count.

A group (a source's shards, or one rejected reason) gets `ceil(bytes / target)` files.
Each item goes to file `hash(sort_key) % n` and files are sorted by (hash, key), so
placement and order depend only on the items, never on bundling. The per-group size
is the only global figure, and it is a handful of integers, not the corpus.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.pipelines.file_io import publish
from polymix.transforms.hashing import stable_hash64

ARRAY_RECORD_OPTIONS = "group_size:1"


@dataclass(frozen=True)
class Item:
    group: tuple[str, ...]
    sort_key: str
    payload: bytes
    positions: int = 0
    kinds: tuple[tuple[str, int], ...] = ()  # positions by kind (text, image, audio)


@dataclass(frozen=True)
class WrittenFile:
    group: tuple[str, ...]
    path: str  # relative to the output root
    records: int
    positions: int
    bytes: int
    sha256: str
    kinds: tuple[tuple[str, int], ...] = ()


def _write_array_record(path: str, payloads: list[bytes]) -> None:
    writer = ArrayRecordWriter(path, ARRAY_RECORD_OPTIONS)
    for payload in payloads:
        writer.write(payload)
    writer.close()


def _write_jsonl_gz(path: str, payloads: list[bytes]) -> None:
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out,
    ):
        for payload in payloads:
            out.write(payload)


WRITERS: dict[str, Callable[[str, list[bytes]], None]] = {
    "array_record": _write_array_record,
    "jsonl.gz": _write_jsonl_gz,
}


class _WriteGroupFn(beam.DoFn):
    def __init__(self, output: str, kind: str, naming: Callable[[tuple[str, ...], int, int], str]):
        self.output = output
        self.kind = kind
        self.naming = naming

    def process(self, element):
        (group, index, count), items = element
        ordered = sorted(
            items, key=lambda it: (stable_hash64(it.sort_key), it.sort_key, it.payload)
        )
        relative = self.naming(group, index, count)
        handle, local = tempfile.mkstemp(suffix="." + self.kind.replace(".", "_"))
        os.close(handle)
        try:
            WRITERS[self.kind](local, [it.payload for it in ordered])
            digest = hashlib.sha256()
            with open(local, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            size = os.path.getsize(local)
            publish(local, f"{self.output.rstrip('/')}/{relative}")
        finally:
            os.unlink(local)
        beam.metrics.Metrics.counter("write", self.kind).inc()
        kinds: dict[str, int] = {}
        for item in ordered:
            for kind, n in item.kinds:
                kinds[kind] = kinds.get(kind, 0) + n
        positions = sum(it.positions for it in ordered)
        yield WrittenFile(
            group,
            relative,
            len(ordered),
            positions,
            size,
            digest.hexdigest(),
            tuple(sorted(kinds.items())),
        )


def _place(item: Item, counts: dict[tuple[str, ...], int]) -> tuple[tuple[Any, ...], Item]:
    count = counts[item.group]
    return (item.group, stable_hash64(item.sort_key) % count, count), item


class WriteGroupedFiles(beam.PTransform):
    """PCollection[Item] → PCollection[WrittenFile], one per file written."""

    def __init__(
        self,
        output: str,
        kind: str,
        target_bytes: int,
        naming: Callable[[tuple[str, ...], int, int], str],
    ):
        super().__init__()
        if kind not in WRITERS:
            raise ValueError(f"unknown file kind {kind!r}; known: {sorted(WRITERS)}")
        self.output, self.kind, self.target_bytes, self.naming = output, kind, target_bytes, naming

    def expand(self, items):
        target = self.target_bytes
        counts = (
            items
            | "Sizes" >> beam.Map(lambda it: (it.group, len(it.payload)))
            | "PerGroup" >> beam.CombinePerKey(sum)
            | "Files" >> beam.Map(lambda kv: (kv[0], max(1, math.ceil(kv[1] / target))))
        )
        return (
            items
            | "Place" >> beam.Map(_place, beam.pvalue.AsDict(counts))
            | "ByFile" >> beam.GroupByKey()
            | "Write" >> beam.ParDo(_WriteGroupFn(self.output, self.kind, self.naming))
        )


def shard_name(group: tuple[str, ...], index: int, count: int) -> str:
    (source,) = group
    return f"shards/{source}/{source}-{index:05d}-of-{count:05d}.array_record"


def part_name(prefix: str) -> Callable[[tuple[str, ...], int, int], str]:
    def name(group: tuple[str, ...], index: int, count: int) -> str:
        return f"{prefix}/{'/'.join(group)}/part-{index:05d}-of-{count:05d}.jsonl.gz"

    return name
