"""Log-mel features for any range of frames, equal to librosa's whole-signal result.

Frame j is centred on sample j * hop (librosa's `center=True`, zero padded), so its
time is j * hop / sample_rate on the clip's clock: segments and video frames align by
index arithmetic alone. Computing a range at a time bounds memory per segment instead
of per clip, and gives the same numbers as one call on the whole signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LOG_FLOOR = 1e-10


class MelExtractor:
    """Mel filterbank and STFT geometry built once per worker from an `AudioConfig`."""

    def __init__(self, config: Any) -> None:
        import librosa

        self.sample_rate = config.sample_rate
        self.win_length = round(config.sample_rate * config.window_ms / 1000)
        self.hop_length = round(config.sample_rate * config.hop_ms / 1000)
        self.n_fft = 1 << max(0, (self.win_length - 1).bit_length())
        self.n_mels = config.n_mels
        self.filterbank = librosa.filters.mel(
            sr=config.sample_rate, n_fft=self.n_fft, n_mels=config.n_mels
        ).astype(np.float32)

    @property
    def hop_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop_length if num_samples else 0

    def log_mel(self, signal: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 [stop - start, n_mels]: natural log of mel power, floored at 1e-10."""
        import librosa

        stop = self.num_frames(len(signal)) if stop is None else stop
        if stop <= start:
            return np.zeros((0, self.n_mels), np.float32)
        pad = self.n_fft // 2
        lo = start * self.hop_length - pad
        hi = (stop - 1) * self.hop_length - pad + self.n_fft
        chunk = np.zeros(hi - lo, np.float32)
        src_lo, src_hi = max(lo, 0), min(hi, len(signal))
        if src_hi > src_lo:
            chunk[src_lo - lo : src_hi - lo] = signal[src_lo:src_hi]
        spectrum = librosa.stft(
            chunk,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window="hann",
            center=False,
        )
        power = spectrum.real**2 + spectrum.imag**2
        mel = self.filterbank @ power
        return np.log(np.maximum(mel, LOG_FLOOR)).T.astype(np.float32)
