"""Manifest shards -> one grain `MapDataset` of decoded elements per source.

Record counts come from the manifest's index (ArrayRecord's `path[start:end]` read
instructions), so building a loader over thousands of shards opens none of them; a
shard is opened, and its checksum checked, only when the first record is read from it.
Each source's index is read on its own, straight into `ShardRef`s (four fields a shard);
the loader keeps those of its sources, since every host reads a slice of every shard:
~730 bytes a shard, ~1.7 GB for all of 1 PB (`benchmarks/manifest_scale.py`).
Each source is sharded by host before the per-epoch shuffle, so hosts read disjoint
records that together cover every epoch, and each host still shuffles globally over
its share of every shard.

The shuffle is ours (`epoch_permutation`), not grain's `MapDataset.shuffle`: grain calls
its `index_shuffle` once per record from Python (~16 us each here), which alone cost more
than reading the record. Ours is a keyed Feistel permutation evaluated with numpy on a
whole read block at once: still a pure function of (seed, epoch, index), so it needs no
state, resumes anywhere and gives the same order for any `worker_count`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NamedTuple

import grain
import numpy as np

from polymix.core.manifest import (
    Manifest,
    ManifestError,
    ShardInfo,
    join,
    shard_problem,
    unreadable_shard,
)
from polymix.trainer.data.layout import Element, Layout, decode_element

# Below these, seeking record by record beats one batched `reader.read` (measured on
# `benchmarks/loader.py`'s shards: ~4 us a record against ~40 us + 3 us a record).
_SEEK_MAX_GROUP = 32
_SEEK_MAX_RECORD_BYTES = 32 * 1024
_SEEK_LOCKS = 64


class ShardRef(NamedTuple):
    """What the loader keeps of each shard: a quarter of a `ShardInfo`'s memory."""

    path: str
    records: int
    bytes: int
    sha256: str


class ShardSource(grain.sources.ArrayRecordDataSource):
    """grain's ArrayRecord source plus batched reads and checksums on first open.

    The upstream `__getitems__` starts a thread pool per call, and `reader.read(positions)`
    hands every call of more than one position to ArrayRecord's own pool: ~40 us a call
    here against ~4 us to `seek` and `read` one small record. With thousands of shards a
    block asks each shard for one or two records, so `read` seeks record by record where
    records are small and the group is short, and keeps the batched call (which releases
    the GIL and decompresses in parallel) for long groups and large media records.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        shards: Sequence[ShardInfo | ShardRef],
        *,
        verify: bool = True,
    ):
        self._root = os.fspath(root)
        self._shards = [ShardRef(s.path, s.records, s.bytes, s.sha256) for s in shards]
        self._verify = verify
        self._verified: set[int] = set()
        instructions = [f"{join(self._root, s.path)}[0:{s.records}]" for s in self._shards]
        # No readahead and no reader thread pool: the settings ArrayRecord documents for
        # random access.
        super().__init__(instructions, reader_options={"max_parallelism": "0"})
        self._seekable = [
            s.bytes < _SEEK_MAX_RECORD_BYTES * max(1, s.records) for s in self._shards
        ]
        self._seek_locks = [threading.Lock() for _ in range(_SEEK_LOCKS)]

    def _ensure_reader_exists(self, reader_idx: int) -> None:
        # Called on every read; the check runs once per shard per process, before the
        # reader is created, so a corrupted shard never yields a record.
        shard = self._shards[reader_idx]
        if self._verify and reader_idx not in self._verified:
            with self._lock:
                if reader_idx not in self._verified:
                    problem = shard_problem(self._root, shard, count_records=True)
                    if problem is not None:
                        raise ManifestError(problem)
                    self._verified.add(reader_idx)
        try:
            super()._ensure_reader_exists(reader_idx)
        except (RuntimeError, ValueError, OSError) as exc:  # not ArrayRecord, whatever its sha256
            raise ManifestError(unreadable_shard(shard.path, exc)) from None

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        del state["_seek_locks"]
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._verified = set()  # a new process checks the shards it opens again
        self._seek_locks = [threading.Lock() for _ in range(_SEEK_LOCKS)]

    def _getitems(self, indices: Sequence[int]) -> Sequence[bytes]:
        return self.read(np.asarray(indices, dtype=np.int64))

    def read(self, indices: np.ndarray) -> list[bytes]:
        """Records at global `indices`, one `reader.read` per shard (vectorised lookup)."""
        indices = np.asarray(indices, dtype=np.int64)
        out: list[bytes] = [b""] * len(indices)
        if not len(indices):
            return out
        if indices.min() < 0 or indices.max() >= len(self):
            raise IndexError(f"record index out of range [0, {len(self)})")
        bounds = np.asarray(self._prefix_sums, dtype=np.int64)
        shard = np.searchsorted(bounds, indices, side="right")
        starts = np.concatenate([[0], bounds[:-1]])
        order = np.argsort(shard, kind="stable")
        sorted_shards = shard[order]
        cuts = np.flatnonzero(np.diff(sorted_shards)) + 1
        for group in np.split(order, cuts):
            reader_idx = int(shard[group[0]])
            self._ensure_reader_exists(reader_idx)
            positions = (indices[group] - starts[reader_idx]).tolist()
            try:
                records = self._read_positions(reader_idx, positions)
            except RuntimeError as exc:  # ArrayRecord's word for a file it cannot parse
                raise ManifestError(unreadable_shard(self._shards[reader_idx].path, exc)) from None
            for slot, record in zip(group.tolist(), records, strict=True):
                out[slot] = record
        return out

    def _read_positions(self, reader_idx: int, positions: list[int]) -> list[bytes]:
        reader = self._readers[reader_idx]
        if len(positions) >= _SEEK_MAX_GROUP or not self._seekable[reader_idx]:
            return reader.read(positions)
        # seek + read share the reader's cursor: one thread at a time per shard.
        with self._seek_locks[reader_idx % _SEEK_LOCKS]:
            records = []
            for position in positions:
                reader.seek(position)
                records.append(reader.read())
        return records

    def __repr__(self) -> str:
        return f"ShardSource({len(self._shards)} shards, {len(self)} records)"


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_ROUNDS = 4


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a cheap, well-mixing round function on uint64 arrays."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@functools.lru_cache(maxsize=1024)
def _round_keys(seed: int, epoch: int) -> tuple[np.uint64, ...]:
    digest = hashlib.sha256(f"polymix-shuffle:{seed}:{epoch}".encode()).digest()
    return tuple(
        np.uint64(int.from_bytes(digest[8 * r : 8 * r + 8], "little")) for r in range(_ROUNDS)
    )


def epoch_permutation(index: np.ndarray, n: int, seed: int, epoch: int) -> np.ndarray:
    """`index` in [0, n) -> its place in epoch `epoch`'s shuffled order (a bijection on [0, n)).

    A balanced Feistel network on the smallest even number of bits covering `n`, with
    cycle walking for values that land at or past `n`: a permutation of [0, n) for any
    n, computed for a whole block of indices in a few numpy passes and O(1) memory.
    """
    index = np.asarray(index, dtype=np.int64)
    if n <= 1:
        return np.zeros_like(index)
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    shift = np.uint64(half)
    keys = _round_keys(seed, epoch)

    def feistel(x: np.ndarray) -> np.ndarray:
        left, right = x >> shift, x & mask
        for key in keys:
            left, right = right, left ^ (_mix64(right ^ key) & mask)
        return (left << shift) | right

    with np.errstate(over="ignore"):
        out = feistel(index.astype(np.uint64))
        outside = np.flatnonzero(out >= np.uint64(n))
        while len(outside):
            out[outside] = feistel(out[outside])
            outside = outside[out[outside] >= np.uint64(n)]
    return out.astype(np.int64)


class SourceStream(grain.MapDataset):
    """Infinite stream of one source's records for this host, reshuffled every epoch.

    Element `k`: epoch `k // n`, place `epoch_permutation(k % n)` in this host's share
    (records `process_index::process_count` of the source), as raw record bytes. `read`
    serves a whole block of keys at once; `__getitem__` is the one-record path.
    """

    def __init__(self, source: ShardSource, *, seed: int, process_index: int, process_count: int):
        super().__init__()
        self._source = source
        self._seed = seed
        self._host, self._hosts = process_index, process_count
        self.records = len(range(process_index, len(source), process_count))

    def __len__(self) -> int:
        return sys.maxsize

    def source_indices(self, keys: np.ndarray) -> np.ndarray:
        """Stream keys -> global record indices in the source (shuffle, then host slice)."""
        keys = np.asarray(keys, dtype=np.int64)
        epochs, places = np.divmod(keys, self.records)
        out = np.empty_like(keys)
        for epoch in np.unique(epochs).tolist():
            here = epochs == epoch
            out[here] = epoch_permutation(places[here], self.records, self._seed, epoch)
        return self._host + self._hosts * out

    def read(self, keys: np.ndarray) -> list[bytes]:
        return self._source.read(self.source_indices(keys))

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return self.slice(index)
        return self.read(np.array([index]))[0]

    def _getitems(self, indices: Sequence[int]) -> list[bytes]:
        return self.read(np.asarray(indices, dtype=np.int64))

    def __str__(self) -> str:
        return f"SourceStream({self._source!r}, host {self._host} of {self._hosts})"


def source_seed(seed: int, name: str) -> int:
    """Per-source shuffle seed: adding or dropping a source leaves the others' order alone."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def source_shards(manifest: Manifest, name: str) -> list[ShardInfo]:
    """One source's shards holding records, in path order, from its own index files only."""
    return sorted((s for s in manifest.shards(name) if s.records > 0), key=lambda s: s.path)


def source_refs(manifest: Manifest, name: str) -> tuple[list[ShardRef], float]:
    """`source_shards` as `ShardRef`s, and their mean positions per record, in one pass.

    Each entry is dropped as soon as it is read, so opening a source never holds its
    full index entries at once.
    """
    refs, records, tokens = [], 0, 0
    for shard in manifest.shards(name):
        if shard.records > 0:
            refs.append(ShardRef(shard.path, shard.records, shard.bytes, shard.sha256))
            records, tokens = records + shard.records, tokens + shard.tokens
    refs.sort(key=lambda ref: ref.path)
    return refs, tokens / records if records else 0.0


def shards_by_source(manifest: Manifest) -> dict[str, list[ShardInfo]]:
    """`source_shards` of every source that has any."""
    by_source = {name: source_shards(manifest, name) for name in sorted(manifest.sources)}
    return {name: shards for name, shards in by_source.items() if shards}


def positions_per_record(shards: Sequence[ShardInfo]) -> float:
    """Mean positions per record, from the manifest: turns position weights into record weights."""
    records = sum(s.records for s in shards)
    return sum(s.tokens for s in shards) / records if records else 0.0


def source_stream(
    name: str,
    shards: Sequence[ShardInfo | ShardRef],
    *,
    root: str | os.PathLike[str],
    seed: int,
    process_index: int,
    process_count: int,
    verify: bool,
) -> SourceStream:
    """Infinite, per-epoch-reshuffled stream of this host's raw records of one source."""
    stream = SourceStream(
        ShardSource(root, shards, verify=verify),
        seed=source_seed(seed, name),
        process_index=process_index,
        process_count=process_count,
    )
    if stream.records == 0:
        raise ManifestError(
            f"source {name}: 0 records for process {process_index} of {process_count}"
        )
    return stream


def source_dataset(
    name: str,
    shards: Sequence[ShardInfo | ShardRef],
    *,
    root: str | os.PathLike[str],
    layout: Layout,
    seed: int,
    process_index: int,
    process_count: int,
    verify: bool,
) -> grain.MapDataset[Element]:
    """`source_stream`, decoded: the records the loader packs, in the loader's order."""
    stream = source_stream(
        name,
        shards,
        root=root,
        seed=seed,
        process_index=process_index,
        process_count=process_count,
        verify=verify,
    )
    return stream.map(functools.partial(decode_element, layout=layout, source=name))
