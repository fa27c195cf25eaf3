import io

import numpy as np
import pytest
from PIL import Image

from polymix.core.config.media import PerceptualDedupConfig
from polymix.sample.media import crop_fraction, encode_image
from polymix.transforms.media.phash import (
    band_keys,
    band_plan,
    band_values,
    image_hash,
    signature_distance,
    split_hashes,
)

MAX = PerceptualDedupConfig().max_distance
BUCKET = PerceptualDedupConfig().bucket_size
MISS = PerceptualDedupConfig().miss_rate


def _hash(image: Image.Image) -> bytes:
    return image_hash(image, 8)


def _reopen(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


@pytest.mark.parametrize(
    "variant",
    [
        lambda im: im.copy(),
        lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        lambda im: im.resize((im.width * 3 // 2, im.height * 3 // 2)),
        lambda im: _reopen(encode_image(im, "JPEG", quality=35)),
        lambda im: _reopen(encode_image(im, "JPEG", quality=95)),
        lambda im: crop_fraction(im, 0.02),
    ],
    ids=["exact", "half", "larger", "jpeg35", "jpeg95", "crop2pct"],
)
def test_copies_stay_within_max_distance(pictures, variant):
    for picture in pictures:
        assert signature_distance(_hash(picture), _hash(variant(picture)), 8) <= MAX


def test_different_pictures_are_further_apart(pictures):
    hashes = [_hash(p) for p in pictures]
    distances = [signature_distance(a, b, 8) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > MAX


def test_bands_find_every_pair_within_max_distance():
    """A small corpus gets max_distance + 1 disjoint bands: pigeonhole, no pair missed."""
    rng = np.random.default_rng(0)
    bands = band_plan(1000, 64, MAX, BUCKET, MISS)
    assert len(bands) == MAX + 1 and sorted(b for band in bands for b in band) == list(range(64))
    for _ in range(300):
        a = int(rng.integers(0, 2**63)) * 2 + 1
        flips = rng.choice(64, size=int(rng.integers(0, MAX + 1)), replace=False)
        b = a
        for bit in flips:
            b ^= 1 << int(bit)
        ka = set(band_keys(a.to_bytes(8, "big"), 8, bands))
        kb = set(band_keys(b.to_bytes(8, "big"), 8, bands))
        assert ka & kb


def test_video_signatures_match_frame_for_frame():
    frames = [(i * 0x0101010101010101 + 7).to_bytes(8, "big") for i in range(1, 5)]
    signature = b"".join(frames)
    shifted = b"".join(frames[1:] + frames[:1])  # same frames, another order
    assert signature_distance(signature, shifted, 8) == 0
    assert split_hashes(signature, 8)[0] == int.from_bytes(frames[0], "big")
    other = b"".join((~int.from_bytes(f, "big") & (2**64 - 1)).to_bytes(8, "big") for f in frames)
    assert signature_distance(signature, other, 8) > MAX


def _random_hashes(rng, n: int) -> np.ndarray:
    return rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(
        np.uint64
    )


def _largest_bucket(hashes: np.ndarray, bands) -> int:
    values = band_values(hashes, bands)
    return max(int(np.unique(values[:, b], return_counts=True)[1].max()) for b in range(len(bands)))


def test_buckets_stay_bounded_as_the_corpus_grows():
    """Fixed bands give 2^6-value buckets whatever the corpus (1,343 members at 100k hashes);
    bands as wide as the corpus needs keep the largest bucket near `bucket_size`."""
    rng = np.random.default_rng(1)
    for n in (20_000, 200_000):
        hashes = _random_hashes(rng, n)
        bands = band_plan(n, 64, MAX, BUCKET, MISS)
        assert _largest_bucket(hashes, bands) <= 4 * BUCKET, (n, len(bands))


def test_wide_bands_find_pairs_within_max_distance_at_the_configured_rate():
    rng = np.random.default_rng(2)
    bands = band_plan(10**7, 64, MAX, BUCKET, MISS)
    assert min(len(b) for b in bands) > 64 // (MAX + 1)  # wider than pigeonhole bands
    hashes = _random_hashes(rng, 3000)
    flipped = hashes.copy()
    for i in range(len(flipped)):
        for bit in rng.choice(64, size=MAX, replace=False):
            flipped[i] ^= np.uint64(1) << np.uint64(bit)
    share = (band_values(hashes, bands) == band_values(flipped, bands)).any(axis=1)
    assert share.mean() >= 1 - 3 * MISS - 0.002


def test_band_values_match_the_bucket_keys():
    bands = band_plan(10**6, 64, MAX, BUCKET, MISS)
    rng = np.random.default_rng(3)
    hashes = _random_hashes(rng, 50)
    values = band_values(hashes, bands)
    for row, value in zip(values, hashes, strict=True):
        keys = band_keys(int(value).to_bytes(8, "big"), 8, bands)
        assert len(keys) == len(bands)
        for band, key in enumerate(keys):
            assert int.from_bytes(key[:2], "big") == band
            assert int.from_bytes(key[2:], "big") == int(row[band])
