import io

import numpy as np
import pytest
from PIL import Image

from polymix.core.config.media import ImageConfig, MediaConfig
from polymix.core.record_codec import decode
from polymix.sample.media import encode_image, synthetic_image
from polymix.transforms.example import Example
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.image import (
    check_image,
    from_patches,
    open_image,
    patch_grid,
    resize_to_grid,
    to_patches,
)
from polymix.transforms.media.process import MediaProcessor


def _reason(call) -> tuple[str, str]:
    with pytest.raises(MediaRejected) as info:
        call()
    return info.value.stage, info.value.reason


@pytest.mark.parametrize(
    ("size", "budget", "grid"),
    [
        ((256, 256), 256, (16, 16)),  # fits exactly
        ((1024, 512), 256, (11, 22)),  # 2:1 kept within the budget
        ((64, 48), 256, (3, 4)),  # small: never upsampled
        ((40, 40), 256, (2, 2)),
        ((10, 10), 4, (1, 1)),  # below one patch: one patch
        ((800, 100), 4, None),  # 8:1 cannot keep its aspect in 4 patches
    ],
)
def test_patch_grid_keeps_aspect_within_budget(size, budget, grid):
    assert patch_grid(size[0], size[1], 16, budget) == grid
    if grid:
        assert grid[0] * grid[1] <= budget


def test_patch_grid_never_exceeds_budget_on_many_shapes():
    rng = np.random.default_rng(0)
    for _ in range(500):
        w, h, budget = (
            int(rng.integers(1, 5000)),
            int(rng.integers(1, 5000)),
            int(rng.integers(1, 600)),
        )
        grid = patch_grid(w, h, 16, budget)
        if grid is not None:
            assert grid[0] * grid[1] <= budget


def test_patches_are_row_major_and_reassemble_into_the_resized_image(pictures):
    image = pictures[0]
    rows, cols = patch_grid(image.width, image.height, 16, 64)
    pixels = resize_to_grid(image, rows, cols, 16)
    patches = to_patches(pixels, 16)
    assert patches.shape == (rows * cols, 16 * 16 * 3) and patches.dtype == np.uint8
    assert np.array_equal(patches[1].reshape(16, 16, 3), pixels[:16, 16:32])  # second: right
    assert np.array_equal(patches[cols].reshape(16, 16, 3), pixels[16:32, :16])  # next row
    assert np.array_equal(from_patches(patches, rows, cols, 16), pixels)


def test_processor_record_holds_the_resized_image(pictures, media):
    data = encode_image(pictures[1], "PNG")
    result = MediaProcessor("image", media, None, 2048).process(
        Example("s", "a.png", "image", media=data)
    )
    record = decode(result.records[0].payload)
    rows, cols = record.fields["grid"]
    expected = resize_to_grid(pictures[1], rows, cols, 16)
    assert np.array_equal(from_patches(record["patches"], rows, cols, 16), expected)
    assert result.records[0].positions == rows * cols + 2
    assert (record.fields["width"], record.fields["height"]) == pictures[1].size


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"This is a text file renamed to .jpg\n" * 4, "not_an_image"),
        (bytes(range(256)) * 8, "not_an_image"),
    ],
)
def test_bad_bytes_are_rejected_at_decode(data, reason):
    assert _reason(lambda: open_image(data, ImageConfig())) == ("decode", reason)


def test_truncated_jpeg_is_rejected(pictures):
    data = encode_image(pictures[2], "JPEG", quality=90)
    assert _reason(lambda: open_image(data[: len(data) // 2], ImageConfig())) == (
        "decode",
        "truncated_image",
    )


def test_pixel_limit_is_checked_from_the_header():
    data = encode_image(Image.new("RGB", (3000, 2000)), "PNG")
    config = ImageConfig(max_pixels=5_000_000)
    assert _reason(lambda: open_image(data, config)) == ("decode", "too_many_pixels")


def test_pillows_own_bomb_guard_is_a_rejection_too(monkeypatch):
    data = encode_image(Image.new("RGB", (300, 300)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 90k pixels > 2x the limit
    assert _reason(lambda: open_image(data, ImageConfig())) == ("decode", "too_many_pixels")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60_000)  # between 1x and 2x: a warning
    assert _reason(lambda: open_image(data, ImageConfig())) == ("decode", "too_many_pixels")


def test_file_size_limit(pictures):
    data = encode_image(pictures[0], "PNG")
    config = ImageConfig(max_file_bytes=len(data) - 1)
    assert _reason(lambda: open_image(data, config)) == ("decode", "file_too_large")


def test_exif_orientation_and_transparency():
    rng = np.random.default_rng(1)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode_image(synthetic_image(rng, 160, 90), "JPEG", exif=exif)
    image, size = open_image(data, ImageConfig())
    assert image.size == (90, 160) and size == (160, 90) and image.mode == "RGB"
    clear = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image, _ = open_image(encode_image(clear, "PNG"), ImageConfig())
    assert np.all(np.asarray(image) == 255)  # transparent on white, not black


def test_large_jpeg_is_decoded_at_reduced_scale():
    data = encode_image(Image.new("RGB", (4000, 3000), (9, 99, 199)), "JPEG")
    image, size = open_image(data, ImageConfig(), budget=16)
    assert size == (4000, 3000) and image.width < 1000


@pytest.mark.parametrize(
    ("size", "flat", "reason"),
    [
        ((20, 100), False, "too_small"),
        ((500, 100), False, "extreme_aspect_ratio"),
        ((100, 100), True, "near_constant"),
    ],
)
def test_filters(size, flat, reason):
    rng = np.random.default_rng(2)
    image = Image.new("RGB", size, (120, 120, 120)) if flat else synthetic_image(rng, *size)
    config = ImageConfig()
    assert _reason(lambda: check_image(*size, image, config)) == ("media_filter", reason)
    check_image(120, 100, synthetic_image(rng, 120, 100), config)  # a normal one passes


def test_image_that_cannot_fit_is_rejected_with_a_reason():
    rng = np.random.default_rng(3)
    data = encode_image(synthetic_image(rng, 1000, 100), "PNG")
    media = MediaConfig.model_validate({"image": {"max_aspect_ratio": 20}})
    processor = MediaProcessor("image", media, None, max_seq_len=6)  # 4 patches: 1x6 needed
    call = lambda: processor.process(Example("s", "x", "image", media=data))  # noqa: E731
    assert _reason(call) == ("media_tokenize", "does_not_fit")


def test_decoding_is_deterministic(pictures, media):
    data = encode_image(pictures[3], "JPEG", quality=80)
    processor = MediaProcessor("image", media, None, 512)
    a = processor.process(Example("s", "x", "image", media=data))
    b = processor.process(Example("s", "x", "image", media=io.BytesIO(data).getvalue()))
    assert a.records[0].payload == b.records[0].payload and a.content_key == b.content_key


def test_an_unexpected_library_error_is_a_counted_rejection(monkeypatch, pictures, media):
    import polymix.transforms.media.process as process

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(process, "image_hash", broken)
    data = encode_image(pictures[0], "PNG")
    call = lambda: MediaProcessor("image", media, None, 512).process(  # noqa: E731
        Example("s", "x", "image", media=data)
    )
    assert _reason(call) == ("decode", "unexpected_error")
