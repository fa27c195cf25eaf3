"""Media files built to break decoders, and what a correct run must make of each one.

Every file is written here from its specification (PNG and Y4M by hand, the rest with
Pillow, soundfile and PyAV), so nothing depends on a decoder agreeing with itself:
16-bit and other odd pixel modes, a tar with non-UTF-8 member names and a caption with
a JSON-escaped lone surrogate, a truncated image, videos whose headers claim a huge
duration or resolution, one with more frames than any config should decode, and
zero-length audio. `write_hostile_media(root)` lays them out as media sources and
returns, per source, the outcome each input must have ("kept" or "stage/reason").
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image

# -- pictures -------------------------------------------------------------------------

_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA


def png_16(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG (PNG spec, section 11) of a uint16 [H, W] or [H, W, C] array.

    Written by hand because Pillow writes 16 bits only for single-channel greys.
    """
    pixels = np.asarray(pixels, np.uint16)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    big_endian = pixels.astype(">u2")
    raw = b"".join(b"\x00" + big_endian[y].tobytes() for y in range(height))  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    chunks = [(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(_chunk(kind, data) for kind, data in chunks)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def saved(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def random_u16(seed: int, height: int = 32, width: int = 48, channels: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels else (height, width)
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)
