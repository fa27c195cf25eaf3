"""Manifest shards -> one grain `MapDataset` of decoded elements per source.

Record counts come from the manifest (ArrayRecord's `path[start:end]` read
instructions), so building a loader over thousands of shards opens none of them; a
shard is opened, and its checksum checked, only when the first record is read from it.
Each source is sharded by host before the per-epoch shuffle, so hosts read disjoint
records that together cover every epoch, and each host still shuffles globally over
its share of every shard.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import grain

from polymix.manifest import Manifest, ManifestError, ShardInfo, verify_shard
from trainer.data.layout import Element, Layout, decode_element


class ShardSource(grain.sources.ArrayRecordDataSource):
    """grain's ArrayRecord source plus batched reads for grain and checksums on first open.

    grain's `SourceMapDataset` only batches reads for sources with `_getitems`; the
    upstream class only has `__getitems__`, which also starts a thread pool per call:
    for the few dozen keys per source of one read block that costs more than the reads
    (5k vs 64k records/s at 16 keys, `benchmarks/loader.py` shards). So `_getitems`
    issues one `reader.read(positions)` per shard in the calling thread; grain's
    prefetch threads and worker processes already read several blocks at once.
    """

    def __init__(self, root: Path, shards: Sequence[ShardInfo], *, verify: bool = True):
        self._root = Path(root)
        self._shards = list(shards)
        self._verify = verify
        self._verified: set[int] = set()
        instructions = [f"{os.fspath(self._root / s.path)}[0:{s.records}]" for s in self._shards]
        super().__init__(instructions)

    def _ensure_reader_exists(self, reader_idx: int) -> None:
        # Called on every read; the check runs once per shard per process, before the
        # reader is created, so a corrupted shard never yields a record.
        if self._verify and reader_idx not in self._verified:
            with self._lock:
                if reader_idx not in self._verified:
                    verify_shard(self._root, self._shards[reader_idx], count_records=True)
                    self._verified.add(reader_idx)
        super()._ensure_reader_exists(reader_idx)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._verified = set()  # a new process checks the shards it opens again

    def _getitems(self, indices: Sequence[int]) -> Sequence[bytes]:
        out: list[bytes] = [b""] * len(indices)
        for reader_idx, positions_and_slots in self._split_keys_per_reader(indices).items():
            self._ensure_reader_exists(reader_idx)
            positions, slots = zip(*positions_and_slots, strict=True)
            records = self._readers[reader_idx].read(list(positions))
            for slot, record in zip(slots, records, strict=True):
                out[slot] = record
        return out

    def __repr__(self) -> str:
        return f"ShardSource({len(self._shards)} shards, {len(self)} records)"


def source_seed(seed: int, name: str) -> int:
    """Per-source shuffle seed: adding or dropping a source leaves the others' order alone."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def shards_by_source(manifest: Manifest) -> dict[str, list[ShardInfo]]:
    by_source: dict[str, list[ShardInfo]] = {}
    for shard in manifest.shards:
        if shard.records > 0:
            by_source.setdefault(shard.source, []).append(shard)
    return by_source


def positions_per_record(shards: Sequence[ShardInfo]) -> float:
    """Mean positions per record, from the manifest: turns position weights into record weights."""
    records = sum(s.records for s in shards)
    return sum(s.tokens for s in shards) / records if records else 0.0


def source_dataset(
    name: str,
    shards: Sequence[ShardInfo],
    *,
    root: Path,
    layout: Layout,
    seed: int,
    process_index: int,
    process_count: int,
    verify: bool,
) -> grain.MapDataset[Element]:
    """Infinite, per-epoch-reshuffled stream of this host's decoded records of one source."""
    ds = grain.MapDataset.source(ShardSource(root, shards, verify=verify))
    if process_count > 1:
        ds = ds[process_index::process_count]
    if len(ds) == 0:
        raise ManifestError(
            f"source {name}: {len(ds)} records for process {process_index} of {process_count}"
        )
    ds = ds.shuffle(seed=source_seed(seed, name)).repeat()
    return ds.map(functools.partial(decode_element, layout=layout, source=name))
