"""Audio fingerprints from the log-mel frames the records already hold.

The same clip as WAV, Ogg/Vorbis and MP3 decodes to different samples (so exact dedup
keeps all three) but to nearly the same spectrogram: codecs drop what the ear misses,
not the coarse shape of energy over time and pitch. A hash is a perceptual hash of that
shape, as `phash` is of a picture: a window of log-mel frames is averaged onto a
16 x 16 grid (time x mel band), a 2-D DCT is taken, and each of the hash_size^2
lowest-frequency coefficients becomes one bit, set when it is above their median.

Why it survives codecs: the floor (`DYNAMIC_RANGE` below the window's loudest cell)
hides the hiss and dither codecs add to quiet passages; a gain change only moves the
DC coefficient; an MP3's encoder delay (tens of ms) is a fraction of a grid cell
(~500 ms for an 8 s window, ~90 ms for a 1.4 s clip). A signature is several hashes, of windows spread evenly
over the clip (as a video's sampled frames), so two copies of slightly different
length compare window for window, and a long clip is not signed by its start alone.
Stationary sounds (a pure tone) leave most coefficients near zero and their bits are
noise: such clips are found by exact dedup only.

Measured (`benchmarks/real_audio.py`: 58 real clips, the voices of alsa-utils' WAVs and
freedesktop's Oggs of the same recordings, each also as MP3): copies sit 0-10 bits of
64 apart (mean 1.4), different clips 14+ (median 18). A 32 x 32 grid separated them
less (copies up to 8, but "Rear Center" and "Rear Right", one voice, only 10 apart).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.fft import dctn

GRID = 16  # time cells x mel cells the window is averaged onto
DYNAMIC_RANGE = 8.0  # natural-log units of power (~35 dB) kept below the loudest cell


def _pool(values: np.ndarray, cells: int, axis: int) -> np.ndarray:
    """Means over `cells` near-equal runs along `axis` (runs repeat when fewer values)."""
    n = values.shape[axis]
    edges = np.linspace(0, n, cells + 1)
    starts = np.minimum(np.floor(edges[:-1]).astype(int), n - 1)
    stops = np.maximum(np.ceil(edges[1:]).astype(int), starts + 1)
    cumulative = np.cumsum(np.moveaxis(values, axis, 0), axis=0, dtype=np.float64)
    cumulative = np.concatenate([np.zeros_like(cumulative[:1]), cumulative])
    sums = cumulative[stops] - cumulative[starts]
    return np.moveaxis(sums / (stops - starts)[:, None], 0, axis)


def window_hash(mel: np.ndarray, hash_size: int) -> bytes:
    """hash_size^2 bits (row-major over time x mel frequency) of one window of frames."""
    grid = _pool(_pool(np.asarray(mel, np.float64), GRID, 0), GRID, 1)
    grid = np.maximum(grid, grid.max() - DYNAMIC_RANGE)
    low = dctn(grid, type=2, norm="ortho")[:hash_size, :hash_size]
    bits = low > np.median(low)
    return np.packbits(bits.reshape(-1)).tobytes()


def audio_signature(
    frames: Callable[[int, int], np.ndarray],
    total: int,
    hop_seconds: float,
    hash_size: int,
    window_seconds: float,
    windows: int,
) -> bytes:
    """Hashes of `windows` windows of `window_seconds` spread evenly over a clip's `total`
    log-mel frames, equal ones once; empty for a clip without frames. `frames(start,
    stop)` gives frames [start, stop) as [n, n_mels] (the records' own, no copy of the clip)."""
    if total == 0:
        return b""
    width = max(1, min(total, round(window_seconds / hop_seconds)))
    starts = np.linspace(0, total - width, windows).round().astype(int)
    hashes: dict[bytes, None] = {}
    for start in dict.fromkeys(starts.tolist()):
        hashes[window_hash(frames(start, start + width), hash_size)] = None
    return b"".join(hashes)
