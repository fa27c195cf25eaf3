"""Music-like clips for the audio dedup tests: notes with overtones, attacks and decays.

A pure tone is stationary and signs nothing (see `fingerprint`); these change over time
the way recorded music does, so a codec's loss is small next to the difference between
two melodies.
"""

from __future__ import annotations

import io
import sysconfig
from pathlib import Path

import numpy as np
import soundfile

RATE = 44_100
# A plucked string recorded for CPython's own tests (Lib/test/audiodata): real sound.
PLUCK = Path(sysconfig.get_paths()["stdlib"]) / "test" / "audiodata" / "pluck-pcm16.wav"


def melody(seed: int, seconds: float = 6.0) -> np.ndarray:
    """Mono float32 at `RATE`: random notes of two octaves, each with five harmonics."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n, np.float32)
    start = 0.0
    while start < seconds - 0.1:
        length = float(rng.choice([0.15, 0.25, 0.4]))
        pitch = 220 * 2 ** (int(rng.integers(0, 24)) / 12)
        t = np.arange(int(length * 2 * RATE)) / RATE
        envelope = np.exp(-t * 6) * np.minimum(1, t * 200)
        note = sum((0.5 / k) * np.sin(2 * np.pi * pitch * k * t) for k in range(1, 6)) * envelope
        i = int(start * RATE)
        m = min(len(note), n - i)
        out[i : i + m] += note[:m].astype(np.float32)
        start += length
    out += 0.01 * rng.standard_normal(n).astype(np.float32)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def plucks(onsets: list[float], seconds: float) -> tuple[np.ndarray, int]:
    """The recorded pluck (mono) played at each onset: (signal, its sample rate)."""
    sound, rate = soundfile.read(PLUCK, dtype="float32")
    sound = sound.mean(axis=1) if sound.ndim == 2 else sound
    out = np.zeros(int(seconds * rate), np.float32)
    for onset in onsets:
        i = int(onset * rate)
        m = min(len(sound), len(out) - i)
        out[i : i + m] += sound[:m]
    return (0.5 * out / np.abs(out).max()).astype(np.float32), rate


def encode(signal: np.ndarray, fmt: str, rate: int = RATE, **options) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, rate, format=fmt, **options)
    return buffer.getvalue()


CODECS = {  # the same clip as a lossless file, Ogg/Vorbis and MP3 (~64 kbit/s at 44.1 kHz)
    "wav": {"fmt": "WAV", "subtype": "PCM_16"},
    "ogg": {"fmt": "OGG", "subtype": "VORBIS"},
    "mp3": {"fmt": "MP3", "compression_level": 0.5, "bitrate_mode": "CONSTANT"},
}
