"""PyAV (FFmpeg) helpers shared by video decoding and the audio fallback decoder."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from polymix.transforms.media.clipping import check_clipping
from polymix.transforms.media.errors import FILTER, MediaRejected, WorkBudget


def open_container(data: bytes) -> Any:
    """An `av` input container over bytes in memory; never a path, never the network."""
    import av

    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except Exception as exc:
        raise MediaRejected("undecodable", f"{type(exc).__name__}: {exc}") from None


class AudioCollector:
    """Decoded audio frames → one mono float32 signal at `config.sample_rate`.

    FFmpeg's resampler mixes down and resamples as frames arrive; the duration limit is
    enforced on the samples themselves, whatever the header claimed.
    """

    def __init__(self, config: Any, *, clip_check: bool = False) -> None:
        import av

        self.config = config
        self.clip_check = clip_check
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=config.sample_rate)
        self.limit = int(config.max_seconds * config.sample_rate) + 1
        self.chunks: list[np.ndarray] = []
        self.total = 0
        self.start: float | None = None

    def add(self, frame: Any) -> None:
        if self.start is None and frame.time is not None:
            self.start = float(frame.time)
        if self.clip_check:
            raw = frame.to_ndarray()
            if np.issubdtype(raw.dtype, np.floating):
                check_clipping(raw.reshape(-1), self.config)
        self._take(self.resampler.resample(frame))
        if self.total > self.limit:
            raise MediaRejected("too_long", f"more than {self.config.max_seconds}s", stage=FILTER)

    def _take(self, frames: list[Any]) -> None:
        for out in frames:
            chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            self.chunks.append(chunk)
            self.total += chunk.size

    def finish(self) -> tuple[np.ndarray, float]:
        """(signal, start time in seconds of the stream's first frame)."""
        self._take(self.resampler.resample(None))
        signal = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)
        return signal, self.start or 0.0


def decode_audio_stream(
    container: Any,
    stream: Any,
    config: Any,
    *,
    clip_check: bool = False,
) -> tuple[np.ndarray, float]:
    """Mono float32 at `config.sample_rate` from one audio stream, and its start time (s);
    at most `config.max_packets` packets are demuxed."""
    collector = AudioCollector(config, clip_check=clip_check)
    packets = WorkBudget(config.max_packets, "packets", "too_many_packets")
    try:
        for packet in container.demux(stream):
            packets.spend()
            for frame in packet.decode():
                collector.add(frame)
    except MediaRejected:
        raise
    except Exception as exc:
        raise MediaRejected("corrupt_audio", f"{type(exc).__name__}: {exc}") from None
    return collector.finish()
