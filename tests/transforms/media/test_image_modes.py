"""Pixel modes decoded to the 8-bit values they mean, checked pixel by pixel on real files.

Each picture is 48x32, so with 16-pixel patches the record holds it unresized (a 2x3
grid) and every patch pixel can be compared with the value the file's own numbers give.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from polymix.core.config.media import MediaConfig
from polymix.core.record_codec import decode
from polymix.transforms.example import Example
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.image import from_patches
from polymix.transforms.media.process import MediaProcessor
from tests.support.hostile_media import png_16, random_u16, saved

HEIGHT, WIDTH = 32, 48


def _decoded(data: bytes) -> np.ndarray:
    """The pixels of the record the image pipeline makes of `data`: uint8 [H, W, 3]."""
    result = MediaProcessor("image", MediaConfig(), None, 2048).process(
        Example("s", "x", "image", media=data)
    )
    record = decode(result.records[0].payload)
    rows, cols = record.fields["grid"]
    assert (rows * 16, cols * 16) == (HEIGHT, WIDTH)  # not resized: pixels comparable
    return from_patches(record["patches"], rows, cols, 16)


def _rejected(data: bytes) -> tuple[str, str]:
    with pytest.raises(MediaRejected) as info:
        MediaProcessor("image", MediaConfig(), None, 2048).process(
            Example("s", "x", "image", media=data)
        )
    return info.value.stage, info.value.reason


def _grey(expected: np.ndarray) -> np.ndarray:
    return np.repeat(expected.astype(np.uint8)[..., None], 3, axis=2)


def test_16_bit_grey_png_is_scaled_not_clipped():
    values = random_u16(1)
    data = png_16(values)
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # the case Pillow clips
    np.testing.assert_array_equal(_decoded(data), _grey(np.round(values / 257)))


def test_16_bit_big_endian_tiff_and_32_bit_integer_tiff():
    values = random_u16(2)
    big = Image.frombytes("I;16B", (WIDTH, HEIGHT), values.astype(">u2").tobytes())
    np.testing.assert_array_equal(_decoded(saved(big, "TIFF")), _grey(np.round(values / 257)))
    wide = Image.fromarray(values.astype(np.int32), "I")
    np.testing.assert_array_equal(_decoded(saved(wide, "TIFF")), _grey(np.round(values / 257)))


def test_integer_values_beyond_16_bits_are_rejected():
    values = random_u16(3).astype(np.int32)
    values[0, 0] = 70_000
    data = saved(Image.fromarray(values, "I"), "TIFF")
    assert _rejected(data) == ("decode", "pixel_values_out_of_range")
    values[0, 0] = -1
    assert _rejected(saved(Image.fromarray(values, "I"), "TIFF")) == (
        "decode",
        "pixel_values_out_of_range",
    )


def test_float_tiff_in_the_unit_range_and_outside_it():
    values = np.random.default_rng(4).random((HEIGHT, WIDTH), dtype=np.float32)
    data = saved(Image.fromarray(values, "F"), "TIFF")
    expected = np.round(values.astype(np.float64) * 255)
    np.testing.assert_array_equal(_decoded(data), _grey(expected))
    loud = values * 4
    assert _rejected(saved(Image.fromarray(loud, "F"), "TIFF")) == (
        "decode",
        "pixel_values_out_of_range",
    )
    values[3, 3] = np.nan
    assert _rejected(saved(Image.fromarray(values, "F"), "TIFF")) == ("decode", "non_finite_pixels")


def test_16_bit_rgb_and_rgba_pngs():
    values = random_u16(5, channels=3)
    got = _decoded(png_16(values)).astype(int)
    assert np.abs(got - np.round(values / 257)).max() <= 1  # Pillow keeps the high byte
    alpha = np.zeros((HEIGHT, WIDTH, 1), np.uint16)
    alpha[:, WIDTH // 2 :] = 65535  # left half transparent, right half opaque
    got = _decoded(png_16(np.concatenate([values, alpha], axis=2))).astype(int)
    assert np.all(got[:, : WIDTH // 2] == 255)
    assert np.abs(got[:, WIDTH // 2 :] - np.round(values[:, WIDTH // 2 :] / 257)).max() <= 1


def test_grey_with_alpha_is_composited_on_white():
    rng = np.random.default_rng(6)
    grey = rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    alpha = rng.integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    data = saved(Image.fromarray(np.stack([grey, alpha], axis=2), "LA"), "PNG")
    a = alpha.astype(np.float64) / 255
    expected = grey * a + 255 * (1 - a)
    assert np.abs(_decoded(data).astype(int) - _grey(np.round(expected))).max() <= 1


def test_palette_with_a_transparent_index():
    index = np.random.default_rng(7).integers(0, 3, (HEIGHT, WIDTH), dtype=np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette([200, 10, 10, 10, 200, 10, 10, 10, 200])
    data = saved(image, "PNG", transparency=2)
    colours = np.array([[200, 10, 10], [10, 200, 10], [255, 255, 255]], np.uint8)
    np.testing.assert_array_equal(_decoded(data), colours[index])


def test_cmyk_tiff_pure_inks():
    inks = np.array(
        [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]], np.uint8
    )
    rgb = np.array(
        [[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0], [255, 255, 255]], np.uint8
    )
    index = np.random.default_rng(8).integers(0, len(inks), (HEIGHT, WIDTH))
    data = saved(Image.fromarray(inks[index], "CMYK"), "TIFF")
    np.testing.assert_array_equal(_decoded(data), rgb[index])


def test_lab_is_rejected_rather_than_guessed():
    lab = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    data = saved(Image.fromarray(lab, "LAB"), "TIFF")
    assert _rejected(data) == ("decode", "unsupported_mode")


def test_one_bit_png():
    bits = np.random.default_rng(9).integers(0, 2, (HEIGHT, WIDTH)).astype(bool)
    data = saved(Image.fromarray(bits), "PNG")
    np.testing.assert_array_equal(_decoded(data), _grey(bits * 255))


def test_formats_outside_the_supported_list_are_not_opened():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 48 32\nshowpage\n"
    assert _rejected(eps) == ("decode", "not_an_image")  # never handed to Ghostscript
