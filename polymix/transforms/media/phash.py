"""Perceptual hashes, their LSH bands, and the per-bucket candidate edges.

`imagehash.phash` (DCT of a 32x32 grey thumbnail, hash_size^2 bits) survives resizes
and re-encodes (distance ~2 of 64 bits) and small crops (a 2% crop: up to ~10), while
different pictures sit 14+ apart. A signature is one hash (image) or several (a
video's sampled frames), concatenated as bytes.

Banding (`band_plan`): a band is a set of bit positions, and two hashes share a
bucket when they agree on all of a band's bits. Cut into max_distance + 1 disjoint bands,
any two hashes within max_distance share one (pigeonhole), but a 64-bit hash then has
bands of 5-6 bits: 64 values each, so each bucket holds 1/64 of the corpus (1,343
members at 10^5 images, 1.7M at 10^8) and is compared member by member. So the plan
depends on the corpus: while the pigeonhole buckets stay near `bucket_size` they are
used; beyond, each band samples k = log2(n / bucket_size) bit positions (seeded), so a
band has n / bucket_size values and buckets stay near `bucket_size` however large the
corpus, and as many bands are drawn as it takes for two hashes max_distance apart to
share one with probability 1 - miss_rate (bit-sampling LSH, Indyk and Motwani, STOC
1998: they share a given band with probability C(bits - d, k) / C(bits, k)). The price
is more bands per hash as the corpus grows (124 of 15 bits at 10^6 hashes, 325 of 19
at 10^7, for d = 10 and miss_rate 10^-3), each one a small key; at 10^6 uniform hashes
the largest bucket is 66 instead of 31,605 (`benchmarks/scale.py phash`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from functools import lru_cache

import imagehash
import numpy as np
from PIL import Image

BandPlan = tuple[tuple[int, ...], ...]  # bit positions per band, 0 = the hash's first bit
_PLAN_SEED = 0x70A5


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


def pigeonhole_bands(hash_bits: int, max_distance: int) -> BandPlan:
    """max_distance + 1 disjoint runs of bits: every pair within max_distance shares one."""
    bands = max_distance + 1
    return tuple(
        tuple(range(band * hash_bits // bands, (band + 1) * hash_bits // bands))
        for band in range(bands)
    )


def share_probability(hash_bits: int, distance: int, width: int) -> float:
    """Chance that `width` distinct random bit positions avoid `distance` differing bits."""
    return math.comb(hash_bits - distance, width) / math.comb(hash_bits, width)


@lru_cache(maxsize=64)
def band_plan(
    n_hashes: int, hash_bits: int, max_distance: int, bucket_size: int, miss_rate: float
) -> BandPlan:
    """The bands for a corpus of `n_hashes` hashes (see the module docstring)."""
    pigeonhole = pigeonhole_bands(hash_bits, max_distance)
    width = math.ceil(math.log2(max(n_hashes, 1) / bucket_size)) if n_hashes > bucket_size else 0
    if width <= min(len(band) for band in pigeonhole):
        return pigeonhole
    width = min(width, hash_bits - max_distance)
    share = share_probability(hash_bits, max_distance, width)
    count = math.ceil(math.log(miss_rate) / math.log1p(-share)) if share < 1 else 1
    rng = np.random.default_rng(_PLAN_SEED + width)
    return tuple(
        tuple(sorted(int(b) for b in rng.choice(hash_bits, width, replace=False)))
        for _ in range(count)
    )


def _band_value(value: int, band: tuple[int, ...], hash_bits: int) -> int:
    out = 0
    for position in band:
        out = (out << 1) | ((value >> (hash_bits - 1 - position)) & 1)
    return out


def band_keys(signature: bytes, hash_bytes: int, plan: BandPlan) -> list[bytes]:
    """Distinct bucket keys (2-byte band index + the band's bits) over all the hashes."""
    bits_total = hash_bytes * 8
    keys: set[bytes] = set()
    for value in split_hashes(signature, hash_bytes):
        for index, band in enumerate(plan):
            piece = _band_value(value, band, bits_total)
            keys.add(index.to_bytes(2, "big") + piece.to_bytes((len(band) + 7) // 8, "big"))
    return sorted(keys)


def band_values(hashes: np.ndarray, plan: BandPlan, hash_bits: int = 64) -> np.ndarray:
    """`band_keys`' band values for many 64-bit hashes at once: (len(hashes), bands)."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    out = np.zeros((len(hashes), len(plan)), dtype=np.uint64)
    for index, band in enumerate(plan):
        column = np.zeros(len(hashes), dtype=np.uint64)
        for position in band:
            bit = (hashes >> np.uint64(hash_bits - 1 - position)) & np.uint64(1)
            column = (column << np.uint64(1)) | bit
        out[:, index] = column
    return out


def close_pairs(
    members: Iterable[tuple[str, bytes]], hash_bytes: int, max_distance: float
) -> Iterator[tuple[str, str, float]]:
    """(a, b, distance), a < b, for every pair of a small bucket within max_distance."""
    ordered = sorted(members)
    for i, (node_a, signature_a) in enumerate(ordered):
        for node_b, signature_b in ordered[i + 1 :]:
            if node_a == node_b:
                continue
            distance = signature_distance(signature_a, signature_b, hash_bytes)
            if distance <= max_distance:
                yield node_a, node_b, distance


def similarity(distance: float, hash_bytes: int) -> float:
    """1 - distance / bits: the `similarity` written next to a duplicate."""
    return max(0.0, 1.0 - distance / (hash_bytes * 8))
