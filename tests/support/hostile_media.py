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
import os
import struct
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
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


def cmyk_inks(seed: int, height: int = 32, width: int = 48) -> Image.Image:
    """Pure inks and paper in random places: each pixel's RGB is known exactly."""
    inks = np.array(
        [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]], np.uint8
    )
    index = np.random.default_rng(seed).integers(0, len(inks), (height, width))
    return Image.fromarray(inks[index], "CMYK")


def _odd_pictures() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, outcome)."""
    rng = np.random.default_rng(20)
    unit = rng.random((32, 48), dtype=np.float32)
    wide = random_u16(21).astype(np.int32)
    beyond = wide.copy()
    beyond[0, 0] = 70_000
    nan = unit.copy()
    nan[1, 1] = np.nan
    palette = Image.fromarray(rng.integers(0, 3, (32, 48), dtype=np.uint8), "P")
    palette.putpalette([200, 10, 10, 10, 200, 10, 10, 10, 200])
    grey_alpha = rng.integers(0, 256, (32, 48, 2), dtype=np.uint8)
    alpha16 = np.concatenate([random_u16(22, channels=3), random_u16(23, channels=1)], axis=2)
    big_endian = random_u16(24).astype(">u2").tobytes()
    whole_jpeg = saved(cmyk_inks(25, 96, 128).convert("RGB"), "JPEG", quality=90)
    bits = rng.integers(0, 2, (32, 48)).astype(bool)
    return {
        "grey16.png": (png_16(random_u16(26)), "kept"),
        "grey16-big-endian.tiff": (
            saved(Image.frombytes("I;16B", (48, 32), big_endian), "TIFF"),
            "kept",
        ),
        "int32.tiff": (saved(Image.fromarray(wide, "I"), "TIFF"), "kept"),
        "int32-beyond-16-bits.tiff": (
            saved(Image.fromarray(beyond, "I"), "TIFF"),
            "decode/pixel_values_out_of_range",
        ),
        "float.tiff": (saved(Image.fromarray(unit, "F"), "TIFF"), "kept"),
        "float-loud.tiff": (
            saved(Image.fromarray(unit * 4, "F"), "TIFF"),
            "decode/pixel_values_out_of_range",
        ),
        "float-nan.tiff": (saved(Image.fromarray(nan, "F"), "TIFF"), "decode/non_finite_pixels"),
        "rgb16.png": (png_16(random_u16(27, channels=3)), "kept"),
        "rgba16.png": (png_16(alpha16), "kept"),
        "cmyk.tiff": (saved(cmyk_inks(28), "TIFF"), "kept"),
        "cmyk.jpg": (saved(cmyk_inks(29, 64, 96), "JPEG", quality=95), "kept"),
        "palette-transparent.png": (saved(palette, "PNG", transparency=2), "kept"),
        "grey-alpha.png": (saved(Image.fromarray(grey_alpha, "LA"), "PNG"), "kept"),
        "one-bit.png": (saved(Image.fromarray(bits), "PNG"), "kept"),
        "lab.tiff": (
            saved(Image.fromarray(np.full((32, 48, 3), 128, np.uint8), "LAB"), "TIFF"),
            "decode/unsupported_mode",
        ),
        "truncated.jpg": (whole_jpeg[: len(whole_jpeg) // 2], "decode/truncated_image"),
        "drawing.eps": (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 48 32\n",
            "decode/not_an_image",
        ),
    }


# -- shards ---------------------------------------------------------------------------


def raw_name_tar(members: list[tuple[bytes, bytes]]) -> bytes:
    """A GNU tar whose member names are exactly the given bytes, UTF-8 or not."""
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer,
        mode="w",
        format=tarfile.GNU_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    ) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _odd_shard() -> tuple[bytes, dict[str, str]]:
    """A shard with a latin-1 member name, undecodable bytes, a lone-surrogate caption and
    a caption that is not UTF-8; returns (tar bytes, id within the shard -> outcome)."""
    from polymix.sample.media import synthetic_image

    rng = np.random.default_rng(30)
    pictures = [saved(synthetic_image(rng, 96, 80), "PNG") for _ in range(4)]
    tar = raw_name_tar(
        [
            (b"caf\xe9.png", pictures[0]),
            (b"caf\xe9.txt", "Un caf\u00e9 serr\u00e9.".encode()),
            (b"\xff\xfe.png", pictures[1]),
            (b"lone.png", pictures[2]),
            (b"lone.json", b'{"txt": "half a pair \\ud83d here"}'),
            (b"latin.png", pictures[3]),
            (b"latin.txt", "caf\u00e9".encode("latin-1")),
        ]
    )
    outcomes = {
        "caf\\xe9": "kept",
        "\\xff\\xfe": "kept",
        "lone": "kept",
        "latin": "read/invalid_caption",
    }
    return tar, outcomes


# -- video and sound ------------------------------------------------------------------


def y4m_header(width: int, height: int, fps: str = "25:1") -> bytes:
    """A YUV4MPEG2 header (it states size and rate in plain text) and a cut first frame:
    whatever it claims costs the writer nothing."""
    return f"YUV4MPEG2 W{width} H{height} F{fps} Ip A1:1 C420jpeg\nFRAME\n".encode() + bytes(64)


def y4m(width: int, height: int, frames: int, fps: str = "25:1", seed: int = 0) -> bytes:
    """A YUV4MPEG2 stream of `frames` noise frames."""
    header = f"YUV4MPEG2 W{width} H{height} F{fps} Ip A1:1 C420jpeg\n".encode()
    rng = np.random.default_rng(seed)
    size = width * height * 3 // 2
    body = b"".join(
        b"FRAME\n" + rng.integers(0, 256, size, dtype=np.uint8).tobytes() for _ in range(frames)
    )
    return header + body


def wav_claiming(seconds_claimed: float, rate: int = 16_000) -> bytes:
    """A 16-bit mono WAV whose header claims `seconds_claimed` but holds 0.1 s of samples."""
    samples = (np.sin(np.arange(rate // 10) * 0.3) * 8000).astype("<i2").tobytes()
    claimed = min(int(seconds_claimed * rate * 2), 0xFFFFFFFF - 36)
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", claimed) + samples


# -- the corpus -----------------------------------------------------------------------

SOURCES: list[dict[str, Any]] = [
    {"name": "odd_images", "modality": "image", "paths": ["images/*"], "format": "files"},
    {
        "name": "odd_shards",
        "modality": "image",
        "paths": ["shards/*.tar"],
        "format": "webdataset",
        "caption_field": "txt",
    },
    {"name": "odd_videos", "modality": "video", "paths": ["videos/*"], "format": "files"},
    {"name": "odd_audio", "modality": "audio", "paths": ["audio/*"], "format": "files"},
]
# Videos without sound are welcome here (the Y4M ones have none); a low frame budget
# lets a small file stand for one with more frames than any config should decode.
MEDIA: dict[str, Any] = {"video": {"require_audio": False, "max_decoded_frames": 100}}


@dataclass
class HostileMedia:
    """Per source, each input's id (relative to the corpus root) and its outcome."""

    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)

    def expect(self, source: str, example_id: str, outcome: str) -> None:
        self.outcomes.setdefault(source, {})[example_id] = outcome


def write_hostile_media(root: str | Path, *, undecodable_file_name: bool = False) -> HostileMedia:
    """Write the hostile media files under `root` (images/, shards/, videos/, audio/).

    `undecodable_file_name` adds an image whose name on disk is not UTF-8; off by default
    because Beam's coders refuse such a path (a str with lone surrogates) between the
    glob match and the reader, before the reader can escape it.
    """
    from polymix.sample.media import encode_audio, encode_video, moving_frames, tone

    root = Path(root)
    expected = HostileMedia()
    for folder in ("images", "shards", "videos", "audio"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, (data, outcome) in _odd_pictures().items():
        (root / "images" / name).write_bytes(data)
        expected.expect("odd_images", f"images/{name}", outcome)
    if undecodable_file_name:
        latin_name = os.fsdecode(b"caf\xe9-latin-1-name.png")
        (root / "images" / latin_name).write_bytes(png_16(random_u16(31)))
        expected.expect("odd_images", "images/caf\\xe9-latin-1-name.png", "kept")
    tar, members = _odd_shard()
    (root / "shards" / "odd-000.tar").write_bytes(tar)
    for key, outcome in members.items():
        expected.expect("odd_shards", f"shards/odd-000.tar/{key}", outcome)
    videos = {
        "moving.mp4": (encode_video(moving_frames(40, 64, 48, 30), tone(440, 3.0)), "kept"),
        "huge-resolution.y4m": (y4m_header(10_000, 10_000), "decode/too_many_pixels"),
        "many-frames.y4m": (y4m(64, 48, 150, seed=41), "decode/too_many_frames"),
    }
    for name, (data, outcome) in videos.items():
        (root / "videos" / name).write_bytes(data)
        expected.expect("odd_videos", f"videos/{name}", outcome)
    sounds = {
        "tone.flac": (encode_audio(tone(330, 1.5), "FLAC"), "kept"),
        "zero-length.wav": (encode_audio(np.zeros(0, np.float32), "WAV"), "decode/empty_audio"),
        "empty.ogg": (b"", "decode/empty_file"),
        # libsndfile trusts the file's size over the header: 0.1 s is what there is
        "claims-40-hours.wav": (wav_claiming(40 * 3600), "media_filter/too_short"),
    }
    for name, (data, outcome) in sounds.items():
        (root / "audio" / name).write_bytes(data)
        expected.expect("odd_audio", f"audio/{name}", outcome)
    return expected
