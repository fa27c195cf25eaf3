"""Read the mixed record stream in blocks, pack each block, then hand on rows.

grain's prefetcher fetches a `MapDataset` element per call; one ArrayRecord record per
call is what makes grain's plain random access slow. Making the element a *block* of
consecutive mixed records lets every step work on arrays of indices: the mixture
schedule picks sources for the whole block (`MixtureSchedule.select`), each source
shuffles and host-slices its keys at once (`SourceStream`), reads them shard by shard
(`ShardSource.read`) and decodes them in one call per source, text records straight to
their token ids (`layout.decode_parts`). grain's own `mix`/`shuffle`/`map` chain did the same
per record from Python, which cost several times the read. The block is also what
grain's worker processes split among themselves, so the record order does not depend
on `worker_count`.

`Unblock` is a small iterator of our own rather than grain's flat-map because its state
also says where the next unread block starts, which a weight change on resume needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import grain
import numpy as np

from polymix.trainer.data.layout import Part
from polymix.trainer.data.mixing import MixtureSchedule
from polymix.trainer.data.sources import SourceStream


class ReadBlocks(grain.MapDataset):
    """Element `i` = (i, mixed records `[i*size, (i+1)*size)`, decoded), read in one batch.

    Hosts share every source instead of splitting its records: host `h` of `n` reads
    keys `h, h + n, h + 2n, ...` of each source's whole (per-epoch shuffled) stream, so a
    source smaller than the number of hosts still gives every host its share of the
    mixture, and together the hosts read each source's stream exactly once in order.
    """

    def __init__(
        self,
        schedule: MixtureSchedule,
        streams: Sequence[SourceStream],
        decoders: Sequence[Callable[[list[bytes]], list[Part]]],
        size: int,
        *,
        host: int = 0,
        hosts: int = 1,
    ):
        super().__init__()
        if size <= 0:
            raise ValueError(f"read block size must be positive, got {size}")
        self._schedule = schedule
        self._streams = list(streams)
        self._decoders = list(decoders)
        self._size = size
        self._host, self._hosts = host, hosts

    def __len__(self) -> int:
        return sys.maxsize // self._size

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return self.slice(index)
        start = index * self._size
        which, keys = self._schedule.select(np.arange(start, start + self._size, dtype=np.int64))
        out: list[Any] = [None] * self._size
        for source in np.unique(which).tolist():
            slots = np.flatnonzero(which == source)
            shared = keys[slots] * self._hosts + self._host
            parts = self._decoders[source](self._streams[source].read(shared))
            for slot, part in zip(slots.tolist(), parts, strict=True):
                out[slot] = part
        return index, out

    def __str__(self) -> str:
        return f"ReadBlocks(size={self._size})"


class Unblock(grain.IterDataset):
    """Blocks of packed rows -> rows; state = (parent state at the block, rows taken)."""

    def __init__(self, parent: grain.IterDataset, size: int):
        super().__init__(parent)
        self._size = size

    def __iter__(self) -> UnblockIterator:
        return UnblockIterator(self._parent.__iter__(), self._size)

    def __str__(self) -> str:
        return f"Unblock(size={self._size})"


class UnblockIterator(grain.DatasetIterator):
    def __init__(self, parent: grain.DatasetIterator, size: int):
        super().__init__(parent)
        self._size = size
        self._block: list[Any] | None = None
        self._block_state = parent.get_state()
        self._offset = 0
        # First mixed record of the first block not yet started: where new weights can
        # take over without re-reading or skipping anything.
        self._fresh_record = 0

    def __next__(self) -> Any:
        while self._block is None or self._offset >= len(self._block):
            skip = self._offset if self._block is None else 0
            self._block_state = self._parent.get_state()
            index, self._block = next(self._parent)
            self._offset = skip
            self._fresh_record = (index + 1) * self._size
        item = self._block[self._offset]
        self._offset += 1
        return item

    def get_state(self) -> dict[str, Any]:
        done = self._block is not None and self._offset >= len(self._block)
        return {
            "parent": self._parent.get_state() if done else self._block_state,
            "offset": 0 if done else self._offset,
            "fresh_record": self._fresh_record,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._parent.set_state(state["parent"])
        self._block_state = state["parent"]
        self._block = None
        self._offset = int(state["offset"])
        self._fresh_record = int(state["fresh_record"])

    def __str__(self) -> str:
        return f"UnblockIterator(size={self._size})"
