"""Audio fingerprints on real sounds: Debian's speaker-test voices and freedesktop's theme.

The two packages ship the same recordings ("Front Center", ...) once as WAV (alsa-utils)
and once as Ogg/Vorbis (sound-theme-freedesktop), encoded by other people: real
cross-codec duplicates. Each clip is also re-encoded as MP3 here. Prints, per clip of at
least `audio.min_seconds`, its distance to its other-codec copies and to the nearest
clip that is not a copy, then the largest copy distance and the smallest other distance
against `perceptual_dedup.max_distance`.

    .venv/bin/python benchmarks/real_audio.py   # builds ${POLYMIX_CACHE:-~/.cache/polymix}/real_audio

Building the cache needs `apt-get download` (Debian's registry) once; nothing else does.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cache_lock import building  # noqa: E402
from polymix.core.config.media import MediaConfig  # noqa: E402
from polymix.transforms.example import Example  # noqa: E402
from polymix.transforms.media.errors import MediaRejected  # noqa: E402
from polymix.transforms.media.phash import signature_distance  # noqa: E402
from polymix.transforms.media.process import MediaProcessor  # noqa: E402

PACKAGES = ("alsa-utils", "sound-theme-freedesktop")
CACHE = Path(os.environ.get("POLYMIX_CACHE", "~/.cache/polymix")).expanduser() / "real_audio"
# the same recording under two names: alsa-utils' WAV and freedesktop's Ogg, or a link
SAME = {
    f"alsa/{side}.wav": f"freedesktop/stereo/audio-channel-{side.lower().replace('_', '-')}.oga"
    for side in (
        "Front_Center",
        "Front_Left",
        "Front_Right",
        "Rear_Center",
        "Rear_Left",
        "Rear_Right",
        "Side_Left",
        "Side_Right",
    )
}
SAME["alsa/Noise.wav"] = "freedesktop/stereo/audio-test-signal.oga"
SAME["freedesktop/stereo/camera-shutter.oga"] = "freedesktop/stereo/screen-capture.oga"


def build_cache() -> Path:
    with building(CACHE):
        if not any(CACHE.rglob("*.wav")):
            _build(CACHE)
    return CACHE


def _build(cache: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True)
        for deb in Path(tmp).glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        sounds = Path(tmp) / "x" / "usr" / "share" / "sounds"
        for path in sounds.rglob("*"):
            if path.suffix in (".wav", ".oga"):
                target = cache / path.relative_to(sounds)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())  # a link becomes a copy


def as_mp3(data: bytes) -> bytes | None:
    """The clip as MP3 (~64 kbit/s), or None at a rate MPEG audio does not have (96 kHz)."""
    signal, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, signal, rate, format="MP3", compression_level=0.5)
    except soundfile.LibsndfileError:
        return None
    return buffer.getvalue()


def signatures(root: Path, media: MediaConfig) -> dict[str, bytes]:
    processor = MediaProcessor("audio", media, None, 4096)
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".oga")):
        name = str(path.relative_to(root))
        for label, data in ((name, path.read_bytes()), (f"{name}.mp3", None)):
            data = data if data is not None else as_mp3(path.read_bytes())
            if data is None:
                break
            try:
                out[label] = processor.process(
                    Example("real", label, "audio", media=data)
                ).signature
            except MediaRejected as exc:
                print(f"  {label}: {exc.reason}")
                break
    return out


def group_of(name: str) -> str:
    base = name.removesuffix(".mp3")
    return next((wav for wav, oga in SAME.items() if base in (wav, oga)), base)


def main() -> None:
    media = MediaConfig()
    hash_bytes = media.perceptual_dedup.hash_size**2 // 8
    signed = signatures(build_cache(), media)
    copies, others = [], []
    for name, signature in signed.items():
        near = [
            (signature_distance(signature, s, hash_bytes), other)
            for other, s in signed.items()
            if other != name
        ]
        same = [d for d, other in near if group_of(other) == group_of(name)]
        diff = min((d, other) for d, other in near if group_of(other) != group_of(name))
        copies += same
        others.append(diff[0])
        print(f"{name:60s} copies {same}  nearest other {diff[0]:5.1f} ({diff[1]})")
    limit = media.perceptual_dedup.max_distance
    print(f"\n{len(signed)} clips; max_distance {limit}")
    print(f"largest copy distance {max(copies)}, mean {np.mean(copies):.2f}")
    print(f"smallest other distance {min(others)}, median {np.median(others):.1f}")


if __name__ == "__main__":
    main()
