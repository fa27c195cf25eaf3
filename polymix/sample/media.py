"""Generated images, audio and video for the demo corpus, and the counts a run must report.

Everything is produced here (Pillow, soundfile, PyAV), seeded, and built to exercise
one path each: kept media with and without captions, exact and near duplicates
(copy, resize, JPEG re-encode, 2% crop, re-encoded video), every filter, and every
kind of bad input. `generate_media` returns what a correct pipeline must count, from
how each file was made, not from running the pipeline.
"""

from __future__ import annotations

import io
import random
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

# The sources as config entries (paths relative to the corpus root), and the media
# settings the counts below assume; max_seq_len 512 as in the text demo. Near-duplicate
# clusters here are pairs, so 4 connected-components rounds suffice (each unrolled
# round is two shuffles, which the DirectRunner pays for even when they move nothing).
MEDIA_SOURCES: list[dict[str, Any]] = [
    {
        "name": "images",
        "modality": "image",
        "paths": ["images/*.jpg", "images/*.png"],
        "format": "files",
        "caption_field": "txt",
        "weight": 0.05,
    },
    {
        "name": "image_pairs",
        "modality": "image",
        "paths": ["pairs/*.tar"],
        "format": "webdataset",
        "caption_field": "txt",
        "weight": 0.05,
    },
    {
        "name": "image_table",
        "modality": "image",
        "paths": ["image_table/*.parquet"],
        "format": "parquet",
        "media_field": "image",
        "caption_field": "caption",
        "id_field": "key",
        "weight": 0.02,
    },
    {
        "name": "audio",
        "modality": "audio",
        "paths": ["audio/*.wav", "audio/*.flac", "audio/*.ogg", "audio/*.mp3"],
        "format": "files",
        "caption_field": "txt",
        "weight": 0.05,
    },
    {
        "name": "videos",
        "modality": "video",
        "paths": ["videos/*.mp4"],
        "format": "files",
        "weight": 0.03,
    },
]
MEDIA_SETTINGS: dict[str, Any] = {
    "image": {"max_pixels": 4_000_000},
    "perceptual_dedup": {"max_rounds": 4},
}
MAX_SEQ_LEN = 512

SAMPLE_RATE = 16_000
VIDEO_FPS = 10


@dataclass
class MediaExpected:
    """Per-source counts implied by construction."""

    input: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    rejected: dict[str, Counter] = field(default_factory=dict)  # source -> "stage/reason" -> n
    duplicates: dict[str, Counter] = field(default_factory=dict)  # source -> stage -> n

    def keep(self, source: str, records: int = 1) -> None:
        self.input[source] += 1
        self.kept[source] += 1
        self.records[source] += records

    def reject(self, source: str, stage: str, reason: str) -> None:
        self.rejected.setdefault(source, Counter())[f"{stage}/{reason}"] += 1
        self.input[source] += 1

    def duplicate(self, source: str, stage: str) -> None:
        self.duplicates.setdefault(source, Counter())[stage] += 1
        self.input[source] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "input": dict(self.input),
            "kept": dict(self.kept),
            "records": dict(self.records),
            "rejected": {s: dict(c) for s, c in self.rejected.items()},
            "duplicates": {s: dict(c) for s, c in self.duplicates.items()},
        }


# -- pictures -------------------------------------------------------------------------


def synthetic_image(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Soft colour blobs, a wave and a few shapes: varied low frequencies, so the
    perceptual hashes of different pictures sit far apart."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.zeros((height, width, 3), np.float32)
    for _ in range(5):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        s = rng.uniform(0.1, 0.4) * max(width, height)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        pixels += blob[..., None] * rng.uniform(0, 255, 3)
    fx, fy = rng.uniform(0.5, 4, 2) * 2 * np.pi / np.array([width, height])
    pixels += 40 * np.sin(fx * x + fy * y)[..., None]
    pixels += rng.normal(0, 6, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.uniform(0, width * 0.8), rng.uniform(0, height * 0.8)
        x1 = x0 + rng.uniform(0.1, 0.5) * width
        y1 = y0 + rng.uniform(0.1, 0.5) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=colour)
    return image


def encode_image(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def crop_fraction(image: Image.Image, fraction: float) -> Image.Image:
    """Cut `fraction` of each side off the top-left corner (a small crop)."""
    return image.crop(
        (round(image.width * fraction), round(image.height * fraction), image.width, image.height)
    )


def _images(rng: np.random.Generator, root: Path, expected: MediaExpected) -> list[Image.Image]:
    source = "images"
    folder = root / "images"
    folder.mkdir(parents=True)
    bases = [
        synthetic_image(rng, int(rng.integers(120, 220)), int(rng.integers(120, 220)))
        for _ in range(6)
    ]
    for i, image in enumerate(bases):
        if i % 2:
            (folder / f"img-{i:03d}.png").write_bytes(encode_image(image, "PNG"))
        else:
            (folder / f"img-{i:03d}.jpg").write_bytes(encode_image(image, "JPEG", quality=92))
        if i < 3:
            (folder / f"img-{i:03d}.txt").write_text(f"A generated picture number {i}.")
        expected.keep(source)
    # Exact copy (kept: the smaller id, "images/copy-000.jpg"; the original is the duplicate).
    (folder / "copy-000.jpg").write_bytes((folder / "img-000.jpg").read_bytes())
    expected.duplicate(source, "exact_dedup")
    # Near copies: resized, re-encoded at another quality, a 2% crop.
    small = bases[1].resize((bases[1].width // 2, bases[1].height // 2), Image.Resampling.LANCZOS)
    (folder / "img-001-small.png").write_bytes(encode_image(small, "PNG"))
    (folder / "img-002-q35.jpg").write_bytes(encode_image(bases[2], "JPEG", quality=35))
    (folder / "img-003-crop.png").write_bytes(encode_image(crop_fraction(bases[3], 0.02), "PNG"))
    for _ in range(3):
        expected.duplicate(source, "phash_dedup")
    # Kept odd cases: transparency on white, an EXIF-rotated JPEG.
    rgba = synthetic_image(rng, 96, 80).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1))))
    (folder / "alpha.png").write_bytes(encode_image(rgba, "PNG"))
    expected.keep(source)
    rotated = synthetic_image(rng, 160, 90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    (folder / "rotated.jpg").write_bytes(encode_image(rotated, "JPEG", quality=90, exif=exif))
    expected.keep(source)
    # Filters.
    (folder / "tiny.png").write_bytes(encode_image(synthetic_image(rng, 16, 16), "PNG"))
    expected.reject(source, "media_filter", "too_small")
    (folder / "banner.png").write_bytes(encode_image(synthetic_image(rng, 400, 60), "PNG"))
    expected.reject(source, "media_filter", "extreme_aspect_ratio")
    flat = np.full((100, 120, 3), 128, np.uint8) + rng.integers(0, 2, (100, 120, 3), dtype=np.uint8)
    (folder / "flat.png").write_bytes(encode_image(Image.fromarray(flat), "PNG"))
    expected.reject(source, "media_filter", "near_constant")
    # Bad input.
    whole = encode_image(synthetic_image(rng, 200, 150), "JPEG", quality=90)
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    expected.reject(source, "decode", "truncated_image")
    (folder / "noise.jpg").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    expected.reject(source, "decode", "not_an_image")
    (folder / "notes.jpg").write_text("This is a text file that someone renamed to .jpg\n" * 5)
    expected.reject(source, "decode", "not_an_image")
    (folder / "empty.jpg").write_bytes(b"")
    expected.reject(source, "decode", "empty_file")
    huge = Image.new("RGB", (2100, 2000), (30, 60, 90))  # 4.2 M pixels > max_pixels 4 M
    (folder / "huge.png").write_bytes(encode_image(huge, "PNG"))
    expected.reject(source, "decode", "too_many_pixels")
    return bases


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _image_pairs(rng: np.random.Generator, root: Path, expected: MediaExpected) -> None:
    source = "image_pairs"
    folder = root / "pairs"
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(4):
            image = synthetic_image(rng, int(rng.integers(100, 180)), int(rng.integers(100, 180)))
            _tar_member(tar, f"pair{i:03d}.jpg", encode_image(image, "JPEG", quality=90))
            _tar_member(tar, f"pair{i:03d}.txt", f"Caption of pair {i}.".encode())
            expected.keep(source)
        image = synthetic_image(rng, 128, 128)
        _tar_member(tar, "pair004.png", encode_image(image, "PNG"))
        _tar_member(tar, "pair004.json", b'{"txt": "A caption from the json sidecar."}')
        expected.keep(source)
        _tar_member(tar, "pair005.txt", b"A caption whose image is missing.")
        expected.reject(source, "read", "no_media_member")
        link = tarfile.TarInfo("pair006.jpg")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        expected.reject(source, "read", "tar_link_member")
    (folder / "pairs-000.tar").write_bytes(buffer.getvalue())
    (folder / "pairs-001.tar").write_bytes(b"not a tar archive\n" * 64)
    expected.reject(source, "read", "unreadable_file")


def _image_table(rng: np.random.Generator, root: Path, expected: MediaExpected) -> None:
    source = "image_table"
    folder = root / "image_table"
    folder.mkdir(parents=True)
    images = [synthetic_image(rng, 140, 110) for _ in range(3)]
    rows = [
        {"key": f"row-{i}", "image": encode_image(im, "PNG"), "caption": f"Table image {i}."}
        for i, im in enumerate(images)
    ]
    rows.append({"key": "row-3", "image": encode_image(images[0], "JPEG", quality=40)})
    rows.append({"key": "row-4", "image": None, "caption": "No image here."})
    for _ in images:
        expected.keep(source)
    expected.duplicate(source, "phash_dedup")
    expected.reject(source, "read", "missing_media_field")
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema([("key", pa.string()), ("image", pa.binary()), ("caption", pa.string())]),
    )
    pq.write_table(table, folder / "part-0.parquet")


# -- sound ----------------------------------------------------------------------------


def tone(freq: float, seconds: float, amplitude: float = 0.4, rate: int = SAMPLE_RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode_audio(signal: np.ndarray, fmt: str, rate: int = SAMPLE_RATE, **options: Any) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, signal, rate, format=fmt, **options)
    return buffer.getvalue()


def _audio(rng: np.random.Generator, root: Path, expected: MediaExpected) -> None:
    source = "audio"
    folder = root / "audio"
    folder.mkdir(parents=True)
    # 16-bit samples written as they are, so WAV and FLAC hold the very same numbers
    chord = np.round((tone(440, 2.0) + tone(660, 2.0, 0.2)) * 32767).astype(np.int16)
    (folder / "tone-a.wav").write_bytes(encode_audio(chord, "WAV", subtype="PCM_16"))
    (folder / "tone-a.txt").write_text("Two notes played together.")
    # The same samples as FLAC: decodes to the same signal (kept: "audio/tone-a.flac").
    (folder / "tone-a.flac").write_bytes(encode_audio(chord, "FLAC", subtype="PCM_16"))
    expected.keep(source)
    expected.duplicate(source, "exact_dedup")
    stereo = np.stack([tone(330, 1.5, rate=44_100), tone(495, 1.5, rate=44_100)], axis=1)
    (folder / "stereo-44k.flac").write_bytes(encode_audio(stereo, "FLAC", rate=44_100))
    expected.keep(source)
    (folder / "tone-b.ogg").write_bytes(encode_audio(tone(523, 1.5), "OGG", subtype="VORBIS"))
    expected.keep(source)
    (folder / "tone-c.mp3").write_bytes(encode_audio(tone(392, 1.5), "MP3"))
    expected.keep(source)
    noise = np.clip(rng.normal(0, 0.1, int(1.2 * 44_100)), -1, 1).astype(np.float32)
    (folder / "noise-44k.wav").write_bytes(encode_audio(noise, "WAV", rate=44_100))
    expected.keep(source)
    # 25 s: cut into two records (512 positions hold (512 - 2) * 4 mel frames = 20.4 s).
    long = tone(220, 25.0, 0.3) + np.float32(0.05) * rng.standard_normal(25 * SAMPLE_RATE).astype(
        np.float32
    )
    (folder / "long.flac").write_bytes(encode_audio(long, "FLAC"))
    expected.keep(source, records=2)
    (folder / "silence.wav").write_bytes(encode_audio(np.zeros(2 * SAMPLE_RATE, np.float32), "WAV"))
    expected.reject(source, "media_filter", "mostly_silent")
    square = np.sign(tone(200, 1.0)).astype(np.float32)
    (folder / "clipped.wav").write_bytes(encode_audio(square, "WAV", subtype="FLOAT"))
    expected.reject(source, "media_filter", "clipped")
    (folder / "short.wav").write_bytes(encode_audio(tone(880, 0.2), "WAV"))
    expected.reject(source, "media_filter", "too_short")
    (folder / "zero.wav").write_bytes(encode_audio(np.zeros(0, np.float32), "WAV"))
    expected.reject(source, "decode", "empty_audio")
    (folder / "corrupt.wav").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    expected.reject(source, "decode", "undecodable_audio")


# -- video ----------------------------------------------------------------------------


def moving_frames(seed: int, width: int, height: int, count: int) -> list[np.ndarray]:
    """A synthetic picture drifting across the frame: frames differ, neighbours are close."""
    rng = np.random.default_rng(seed)
    base = np.asarray(synthetic_image(rng, width * 2, height * 2))
    frames = []
    for i in range(count):
        dx, dy = (i * 2) % width, (i * 3) % height
        frames.append(np.ascontiguousarray(base[dy : dy + height, dx : dx + width]))
    return frames


def encode_video(
    frames: list[np.ndarray] | None,
    audio: np.ndarray | None,
    *,
    fps: int = VIDEO_FPS,
    bit_rate: int | None = None,
    size: tuple[int, int] | None = None,
) -> bytes:
    """An MP4 (MPEG-4 part 2 video, AAC audio) from RGB frames and a mono signal."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        video = audio_stream = None
        if frames:
            video = container.add_stream("mpeg4", rate=fps)
            height, width = frames[0].shape[:2]
            video.width, video.height = size or (width, height)
            video.pix_fmt = "yuv420p"
            if bit_rate:
                video.bit_rate = bit_rate
        if audio is not None:
            audio_stream = container.add_stream("aac", rate=SAMPLE_RATE)
            audio_stream.layout = "mono"
        if video is not None and frames:
            for pixels in frames:
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                if size:
                    frame = frame.reformat(width=size[0], height=size[1])
                for packet in video.encode(frame):
                    container.mux(packet)
            for packet in video.encode():
                container.mux(packet)
        if audio_stream is not None and audio is not None:
            for start in range(0, len(audio), 1024):
                frame = av.AudioFrame.from_ndarray(
                    audio[None, start : start + 1024], format="flt", layout="mono"
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = start
                for packet in audio_stream.encode(frame):
                    container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)
    return buffer.getvalue()


def _videos(root: Path, expected: MediaExpected) -> None:
    source = "videos"
    folder = root / "videos"
    folder.mkdir(parents=True)
    a = moving_frames(1, 64, 48, 3 * VIDEO_FPS)
    (folder / "clip-a.mp4").write_bytes(encode_video(a, tone(440, 3.0)))
    expected.keep(source)
    b = moving_frames(2, 64, 48, 3 * VIDEO_FPS)
    (folder / "clip-b.mp4").write_bytes(encode_video(b, tone(300, 3.0)))
    expected.keep(source)
    # clip-a again, smaller and at a low bit rate: a near duplicate by its frames' hashes.
    (folder / "clip-a-small.mp4").write_bytes(
        encode_video(a, tone(440, 3.0), size=(48, 36), bit_rate=60_000)
    )
    expected.duplicate(source, "phash_dedup")
    # 12 s at 1 sampled frame/s: two records (10 s segments fit 512 positions).
    long = moving_frames(3, 64, 48, 12 * VIDEO_FPS)
    (folder / "long.mp4").write_bytes(encode_video(long, tone(250, 12.0)))
    expected.keep(source, records=2)
    # No audio track: kept as frames only (video.require_audio is off by default).
    (folder / "silent-film.mp4").write_bytes(encode_video(moving_frames(4, 64, 48, 20), None))
    expected.keep(source)
    (folder / "radio.mp4").write_bytes(encode_video(None, tone(350, 2.0)))
    expected.reject(source, "decode", "no_video_stream")
    whole = encode_video(moving_frames(5, 64, 48, 20), tone(500, 2.0))
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) * 4 // 10])
    expected.reject(source, "decode", "undecodable_video")


def generate_media(root: str | Path, *, seed: int = 0) -> MediaExpected:
    """Write the media part of the sample corpus under `root` (folders images/, pairs/,
    image_table/, audio/, videos/); returns the counts a run with `MEDIA_SOURCES`,
    `MEDIA_SETTINGS` and max_seq_len `MAX_SEQ_LEN` must report."""
    root = Path(root)
    rng = np.random.default_rng(random.Random(seed).getrandbits(64))
    expected = MediaExpected()
    _images(rng, root, expected)
    _image_pairs(rng, root, expected)
    _image_table(rng, root, expected)
    _audio(rng, root, expected)
    _videos(root, expected)
    return expected
