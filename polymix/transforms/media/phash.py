"""Perceptual hashes, their LSH bands, and the per-bucket candidate edges.

`imagehash.phash` (DCT of a 32x32 grey thumbnail, hash_size^2 bits) survives resizes
and re-encodes (distance ~2 of 64 bits) and small crops (a 2% crop: up to ~10), while
different pictures sit 14+ apart. A signature is one hash (image) or several (a
video's sampled frames), concatenated as bytes.

Banding: cutting a hash into `bands` pieces, two hashes within distance d share at
least one whole band when bands > d (pigeonhole), so `bands = max_distance + 1` finds
every close pair; fewer bands give smaller buckets and find only closer pairs for sure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import imagehash
import numpy as np
from PIL import Image


def image_hash(image: Image.Image, hash_size: int) -> bytes:
    """phash of one picture as hash_size^2 / 8 bytes (bits row-major, as imagehash has them)."""
    bits = imagehash.phash(image, hash_size=hash_size).hash
    return np.packbits(bits.reshape(-1)).tobytes()


def split_hashes(signature: bytes, hash_bytes: int) -> list[int]:
    """The signature's hashes as Python ints (for `int.bit_count` distances)."""
    return [
        int.from_bytes(signature[i : i + hash_bytes], "big")
        for i in range(0, len(signature), hash_bytes)
    ]


def signature_distance(a: bytes, b: bytes, hash_bytes: int) -> float:
    """Hamming distance between signatures; for several hashes the symmetric mean of each
    hash's nearest counterpart, so a video matches its copy frame for frame."""
    ha, hb = split_hashes(a, hash_bytes), split_hashes(b, hash_bytes)
    if not ha or not hb:
        return float("inf")
    if len(ha) == 1 and len(hb) == 1:
        return float((ha[0] ^ hb[0]).bit_count())

    def directed(xs: list[int], ys: list[int]) -> float:
        return sum(min((x ^ y).bit_count() for y in ys) for x in xs) / len(xs)

    return max(directed(ha, hb), directed(hb, ha))


def band_keys(signature: bytes, hash_bytes: int, bands: int) -> list[bytes]:
    """Distinct bucket keys (2-byte band index + the band's bits) over all the hashes."""
    bits_total = hash_bytes * 8
    keys: set[bytes] = set()
    for value in split_hashes(signature, hash_bytes):
        for band in range(bands):
            lo, hi = band * bits_total // bands, (band + 1) * bits_total // bands
            piece = (value >> (bits_total - hi)) & ((1 << (hi - lo)) - 1)
            keys.add(band.to_bytes(2, "big") + piece.to_bytes((hi - lo + 7) // 8, "big"))
    return sorted(keys)


def bucket_edges(
    members: Iterable[tuple[str, bytes]], hash_bytes: int, max_distance: float
) -> Iterator[tuple[str, str, float]]:
    """(representative, member, distance) edges for one bucket.

    Members are visited in node order; each joins the first representative within
    `max_distance` or becomes a representative. Work is members x representatives,
    not all pairs, and every member of a near-duplicate group reaches the group
    through some edge; connected components does the rest.
    """
    representatives: list[tuple[str, bytes]] = []
    for node, signature in sorted(members):
        for rep_node, rep_signature in representatives:
            if rep_node == node:
                break
            distance = signature_distance(rep_signature, signature, hash_bytes)
            if distance <= max_distance:
                yield rep_node, node, distance
                break
        else:
            representatives.append((node, signature))


def similarity(distance: float, hash_bytes: int) -> float:
    """1 - distance / bits: the `similarity` written next to a duplicate."""
    return max(0.0, 1.0 - distance / (hash_bytes * 8))
