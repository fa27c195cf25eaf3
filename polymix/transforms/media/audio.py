"""Audio decoding under limits (soundfile first, PyAV's FFmpeg for the rest) and the filters.

The header is read before any sample, so the duration limit is checked before the
signal is allocated. Clipping is measured on the decoded samples before resampling
(resampling rounds off the flat tops it looks for); silence on the resampled signal.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from polymix.transforms.media.clipping import check_clipping
from polymix.transforms.media.errors import DECODE, FILTER, MediaRejected


def decode_audio(data: bytes, config: Any) -> np.ndarray:
    """Mono float32 at `config.sample_rate` (an `AudioConfig`), clipping checked on the way."""
    if not data:
        raise MediaRejected("empty_file", "0 bytes", stage=DECODE)
    if len(data) > config.max_file_bytes:
        raise MediaRejected(
            "file_too_large", f"{len(data)} > {config.max_file_bytes} bytes", stage=DECODE
        )
    try:
        signal, rate = _soundfile_decode(data, config)
    except _NotForSoundfile as first:
        try:
            signal, rate = _pyav_decode(data, config)
        except _NotForSoundfile as second:
            raise MediaRejected(
                "undecodable_audio", f"soundfile: {first}; ffmpeg: {second}", stage=DECODE
            ) from None
    if signal.size == 0:
        raise MediaRejected("empty_audio", "no samples", stage=DECODE)
    check_clipping(signal, config)
    return resample(signal, rate, config.sample_rate)


class _NotForSoundfile(Exception):
    pass


def _check_duration(frames: int, rate: int, config: Any) -> None:
    if rate <= 0:
        raise MediaRejected("undecodable_audio", f"sample rate {rate}", stage=DECODE)
    seconds = frames / rate
    if seconds > config.max_seconds:
        raise MediaRejected("too_long", f"{seconds:.1f}s > {config.max_seconds}s", stage=FILTER)


def _soundfile_decode(data: bytes, config: Any) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        handle = soundfile.SoundFile(io.BytesIO(data))
    except Exception as exc:
        raise _NotForSoundfile(str(exc)) from None
    with handle:
        _check_duration(handle.frames, handle.samplerate, config)
        if handle.frames == 0:
            raise MediaRejected("empty_audio", "0 frames in header", stage=DECODE)
        try:
            samples = handle.read(dtype="float32", always_2d=True)
        except Exception as exc:
            raise MediaRejected("corrupt_audio", str(exc), stage=DECODE) from None
        return samples.mean(axis=1, dtype=np.float32), handle.samplerate


def _pyav_decode(data: bytes, config: Any) -> tuple[np.ndarray, int]:
    from polymix.transforms.media.av_audio import decode_audio_stream, open_container

    try:
        container = open_container(data)
    except MediaRejected as exc:
        raise _NotForSoundfile(exc.detail) from None
    with container:
        if not container.streams.audio:
            raise MediaRejected("no_audio_stream", "container has no audio", stage=DECODE)
        stream = container.streams.audio[0]
        if container.duration is not None:
            _check_duration(int(container.duration), 1_000_000, config)
        # ffmpeg resamples while decoding, so its output is already at the target rate
        signal, _ = decode_audio_stream(container, stream, config, clip_check=True)
        return signal, config.sample_rate


def resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return np.ascontiguousarray(signal, dtype=np.float32)
    import librosa

    return librosa.resample(signal, orig_sr=rate, target_sr=target, res_type="soxr_hq").astype(
        np.float32
    )


def silent_fraction(signal: np.ndarray, rate: int, threshold_db: float) -> float:
    """Fraction of 10 ms frames whose RMS level is below `threshold_db` (0 dB = full scale)."""
    frame = max(1, rate // 100)
    n = len(signal) // frame
    if n == 0:
        return 1.0
    frames = signal[: n * frame].reshape(n, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    return float(np.mean(level < threshold_db))


def check_audio(signal: np.ndarray, config: Any, *, silence: bool = True) -> None:
    """Duration bounds and silence, on the resampled mono signal."""
    seconds = len(signal) / config.sample_rate
    if seconds < config.min_seconds:
        raise MediaRejected("too_short", f"{seconds:.2f}s < {config.min_seconds}s", stage=FILTER)
    if seconds > config.max_seconds:
        raise MediaRejected("too_long", f"{seconds:.1f}s > {config.max_seconds}s", stage=FILTER)
    if silence:
        fraction = silent_fraction(signal, config.sample_rate, config.silence_db)
        if fraction > config.max_silence_fraction:
            raise MediaRejected(
                "mostly_silent",
                f"{fraction:.2f} of frames below {config.silence_db} dB",
                stage=FILTER,
            )
