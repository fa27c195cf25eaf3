"""LSH banding and candidate pairs: the per-document and per-bucket steps of near dedup.

Two documents become candidates when all `rows` signature values of at least one of
`bands` bands agree; for Jaccard s that happens with probability 1 - (1 - s**rows)**bands
(`polymix.core.lsh_curve.candidate_probability`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import xxhash

from polymix.core.lsh_curve import candidate_probability

NODE_SEPARATOR = "\x1f"
# Buckets up to this size give every pair (so a pair verification drops can still be
# bridged by another); larger ones a star from their smallest member, keeping edges
# linear in bucket size and bounding the edges that end at any one node (at most
# bands x this many, which bounds how often a node's shingle set is sent).
ALL_PAIRS_MAX_BUCKET = 16


def collision_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two documents of this Jaccard share at least one band (the S-curve)."""
    return float(candidate_probability(similarity, bands, rows))


def node_key(source: str, example_id: str) -> str:
    """A document's graph node: ordered by id first, so "smallest node" means smallest id."""
    return f"{example_id}{NODE_SEPARATOR}{source}"


def node_id(node: str) -> str:
    """The example id inside a `node_key`."""
    return node.rsplit(NODE_SEPARATOR, 1)[0]


def band_keys(signature: np.ndarray, bands: int, rows: int, prefix: bytes = b"") -> list[bytes]:
    """One bucket key per band: prefix + 2-byte band index + 64-bit xxh3 of its rows.

    Hashing the rows keeps the shuffle key at ~10 bytes instead of 4*rows; a 2**-64
    accidental bucket collision is far below MinHash's own error (and verification
    removes it when on). `prefix` confines buckets to a scope (e.g. one source).
    """
    row_bytes = np.ascontiguousarray(signature[: bands * rows], dtype="<u4").tobytes()
    width = rows * 4
    return [
        prefix
        + band.to_bytes(2, "big")
        + xxhash.xxh3_64_digest(row_bytes[band * width : (band + 1) * width])
        for band in range(bands)
    ]


def small_bucket_pairs(members: Iterable[tuple]) -> Iterator[tuple[tuple, tuple]]:
    """Every pair (a, b), a[0] < b[0], of a small bucket's (node, payload) members.

    A node has one key per band, so members are distinct; a node key given to two
    documents would repeat, and its self-pairs are skipped. Buckets larger than
    `ALL_PAIRS_MAX_BUCKET` give a star instead (`polymix/pipelines/lsh_buckets.py`).
    """
    ordered = sorted(members, key=lambda m: m[0])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if a[0] != b[0]:
                yield a, b
