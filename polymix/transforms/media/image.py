"""Image decoding under limits, the image filters, and the patch layout of image records.

Decoding reads the header first (Pillow opens lazily), so the pixel limit is checked
before a single pixel is allocated; JPEGs are then decoded at reduced scale (`draft`)
when the patches need fewer pixels than the file has. Pixel modes become 8-bit RGB by
the rules in `pixels.py` (16-bit greys scaled, never clipped).
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from polymix.transforms.media.errors import DECODE, FILTER, MediaRejected
from polymix.transforms.media.pixels import to_rgb8

TOKENIZE = "media_tokenize"
# Formats Pillow decodes by itself; others (EPS runs Ghostscript, PSD, ...) stay unopened.
FORMATS = ("BMP", "GIF", "JPEG", "PNG", "PPM", "TIFF", "WEBP")  # JPEG covers MPO


def patch_grid(width: int, height: int, patch: int, budget: int) -> tuple[int, int] | None:
    """(rows, cols) of the largest patch grid within `budget` that keeps the aspect ratio.

    Never upsamples beyond the image's own size (except to reach one patch per side).
    None when the aspect ratio cannot be kept: a side would need less than one patch.
    """
    if budget < 1 or width < 1 or height < 1:
        return None
    scale = min(1.0, math.sqrt(budget * patch * patch / (width * height)))
    exact_cols, exact_rows = width * scale / patch, height * scale / patch
    cols, rows = max(1, math.floor(exact_cols)), max(1, math.floor(exact_rows))
    if rows * cols > budget:
        if exact_rows < 1 or exact_cols < 1:
            return None
        while rows * cols > budget:  # float rounding only: trim the longer side
            if cols >= rows:
                cols -= 1
            else:
                rows -= 1
    return rows, cols


def open_image(
    data: bytes, config: Any, budget: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode to an upright RGB image and the file's own (width, height); every defect
    becomes a `MediaRejected`.

    `config` is a `polymix.core.config.media.ImageConfig`; `budget` (patches) lets a JPEG be
    decoded at the reduced scale the patches need.
    """
    if not data:
        raise MediaRejected("empty_file", "0 bytes", stage=DECODE)
    if len(data) > config.max_file_bytes:
        raise MediaRejected(
            "file_too_large", f"{len(data)} > {config.max_file_bytes} bytes", stage=DECODE
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected("too_many_pixels", str(exc), stage=DECODE) from None
    except UnidentifiedImageError:
        detail = f"not one of {', '.join(FORMATS)}"
        raise MediaRejected("not_an_image", detail, stage=DECODE) from None
    except Exception as exc:
        raise MediaRejected("undecodable_image", repr(exc), stage=DECODE) from None
    width, height = image.size
    if width * height > config.max_pixels:
        raise MediaRejected(
            "too_many_pixels", f"{width}x{height} > {config.max_pixels} pixels", stage=DECODE
        )
    if width < 1 or height < 1:
        raise MediaRejected("undecodable_image", f"size {width}x{height}", stage=DECODE)
    budget = config.max_patches if budget is None else budget
    scale = math.sqrt(budget * config.patch_size**2 / (width * height))
    if image.format == "JPEG" and scale < 0.5:
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            return to_rgb8(image), (width, height)
    except MediaRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected("too_many_pixels", str(exc), stage=DECODE) from None
    except OSError as exc:
        reason = "truncated_image" if "truncated" in str(exc) else "undecodable_image"
        raise MediaRejected(reason, str(exc), stage=DECODE) from None
    except Exception as exc:
        raise MediaRejected("undecodable_image", repr(exc), stage=DECODE) from None


def check_image(width: int, height: int, image: Image.Image, config: Any) -> None:
    """The image filters: size and aspect from the original size, contrast from the pixels."""
    if min(width, height) < config.min_side:
        raise MediaRejected(
            "too_small", f"{width}x{height}, min side {config.min_side}", stage=FILTER
        )
    ratio = max(width, height) / min(width, height)
    if ratio > config.max_aspect_ratio:
        raise MediaRejected(
            "extreme_aspect_ratio", f"{ratio:.2f} > {config.max_aspect_ratio}", stage=FILTER
        )
    grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BILINEAR), np.float32)
    std = float(grey.std())
    if std < config.min_pixel_std:
        raise MediaRejected(
            "near_constant", f"grey std {std:.2f} < {config.min_pixel_std}", stage=FILTER
        )


def resize_to_grid(image: Image.Image, rows: int, cols: int, patch: int) -> np.ndarray:
    """The image resized to exactly (rows*patch, cols*patch) pixels, as uint8 [H, W, 3]."""
    size = (cols * patch, rows * patch)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def to_patches(pixels: np.ndarray, patch: int) -> np.ndarray:
    """[rows*p, cols*p, 3] → [rows*cols, p*p*3]: patches row-major, each (y, x, channel)."""
    height, width, channels = pixels.shape
    rows, cols = height // patch, width // patch
    grid = pixels.reshape(rows, patch, cols, patch, channels).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(grid.reshape(rows * cols, patch * patch * channels))


def from_patches(patches: np.ndarray, rows: int, cols: int, patch: int) -> np.ndarray:
    """Inverse of `to_patches` (the loader's and the tests' view of a record)."""
    grid = patches.reshape(rows, cols, patch, patch, -1).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * patch, cols * patch, -1)
