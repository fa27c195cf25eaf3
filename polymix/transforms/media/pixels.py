"""Any Pillow pixel mode → 8-bit RGB with the values the picture means, or a rejection.

`Image.convert("RGB")` clips high-depth modes instead of scaling them: a 16-bit grey
PNG (`I;16`) comes out almost white and passes every filter. The rules here:

- `I;16*` (16-bit grey): v / 257, rounded, so 0 → 0 and 65535 → 255.
- `I` (32-bit integers): Pillow uses it for 16-bit data (PGM/PPM, some TIFFs), so the
  same rule; values outside 0..65535 have no agreed meaning and are rejected.
- `F` (32-bit float, TIFF's IEEE samples): the 0..1 convention, v * 255 rounded; values
  outside it or not finite are rejected.
- 16-bit RGB(A) PNGs: Pillow itself keeps the high byte (v >> 8), within one level of
  v / 257; nothing to do here.
- Alpha (`RGBA`, `LA`, `PA`, `La`, `RGBa`, palette with a transparent index): composited
  on white; transparent pixels otherwise hold whatever the encoder left there.
- `CMYK`, `YCbCr`, `HSV`, `1`, `L`, `P`: Pillow's conversions (CMYK without a profile is
  the naive inverse, as viewers do).

Anything else is rejected, never guessed: `LAB` among them, since Pillow 12 hands Little
CMS decoded LAB pixels whose a/b channels read as zero (blue where the file says grey).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from polymix.transforms.media.errors import DECODE, MediaRejected

GREY_16 = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
WITH_ALPHA = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
DIRECT = frozenset({"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV"})


def to_rgb8(image: Image.Image) -> Image.Image:
    """An 8-bit RGB image of `image` by the rules above; `MediaRejected` when none applies."""
    mode = image.mode
    if mode in GREY_16 or mode == "I":
        return _grey(_scale_16(np.asarray(image), mode))
    if mode == "F":
        return _grey(_scale_unit_float(np.asarray(image, dtype=np.float32)))
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in WITH_ALPHA:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in DIRECT:
        return image.convert("RGB")
    raise MediaRejected("unsupported_mode", f"pixel mode {mode!r}", stage=DECODE)


def _grey(values: np.ndarray) -> Image.Image:
    return Image.fromarray(values, "L").convert("RGB")


def _scale_16(values: np.ndarray, mode: str) -> np.ndarray:
    wide = values.astype(np.int64)
    low, high = (int(wide.min()), int(wide.max())) if wide.size else (0, 0)
    if low < 0 or high > 65535:
        raise MediaRejected(
            "pixel_values_out_of_range",
            f"mode {mode} holds {low}..{high}, outside 0..65535",
            stage=DECODE,
        )
    return ((wide + 128) // 257).astype(np.uint8)  # round(v / 257): 257 is odd, no ties


def _scale_unit_float(values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise MediaRejected("non_finite_pixels", "mode F holds NaN or infinity", stage=DECODE)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if low < 0.0 or high > 1.0:
        raise MediaRejected(
            "pixel_values_out_of_range",
            f"mode F holds {low:g}..{high:g}, outside 0..1",
            stage=DECODE,
        )
    return np.rint(values.astype(np.float64) * 255.0).astype(np.uint8)
