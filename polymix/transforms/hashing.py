"""Stable hashes: the same bytes give the same value on every machine and Python process.

Python's built-in `hash()` is salted per process, so anything that decides where a
record goes (shard, side-output part) or which copy is kept uses these instead.
"""

from __future__ import annotations

import hashlib

import xxhash


def content_hash(text: str) -> str:
    """Exact-duplicate key: sha256 of the normalized UTF-8 text (collision-safe at any scale)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_hash64(key: str) -> int:
    """Fast 64-bit hash used for placement (shard index, order within a shard)."""
    return xxhash.xxh64_intdigest(key.encode("utf-8"))


def bucket(key: str, buckets: int) -> int:
    return stable_hash64(key) % buckets
