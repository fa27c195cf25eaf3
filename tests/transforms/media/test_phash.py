import io

import numpy as np
import pytest
from PIL import Image

from polymix.core.config.media import PerceptualDedupConfig
from polymix.sample.media import crop_fraction, encode_image
from polymix.transforms.media.phash import (
    band_keys,
    bucket_edges,
    image_hash,
    signature_distance,
    split_hashes,
)

MAX = PerceptualDedupConfig().max_distance


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
    rng = np.random.default_rng(0)
    bands = MAX + 1
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


def test_bucket_edges_join_each_member_to_a_close_representative():
    base = 0x0F0F0F0F0F0F0F0F
    members = [
        ("a", base.to_bytes(8, "big")),
        ("b", (base ^ 0b111).to_bytes(8, "big")),  # 3 bits from a
        ("c", (~base & (2**64 - 1)).to_bytes(8, "big")),  # far from both
        ("d", (base ^ 0b1).to_bytes(8, "big")),
    ]
    edges = sorted((r, m) for r, m, _ in bucket_edges(members, 8, MAX))
    assert edges == [("a", "b"), ("a", "d")]
