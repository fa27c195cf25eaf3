"""Video decoding with PyAV: frames sampled at a fixed rate, and the audio track.

Both come out on one clock, seconds from the container's start, so the records can
align frames and mel frames by time. Size, resolution and duration are checked from
the headers before decoding, and again on what the decoder actually produces; one
demux pass reads both tracks. No clock decides anything: the limits count work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from polymix.transforms.media.av_audio import AudioCollector, open_container
from polymix.transforms.media.errors import DECODE, FILTER, MediaRejected, WorkBudget

FrameFn = Callable[[Image.Image], Any]


def keep_image(image: Image.Image) -> Image.Image:
    return image


@dataclass
class DecodedVideo:
    frames: list[Any]  # what `frame_fn` made of each frame sampled at `frames_per_second`
    times: list[float]  # seconds on the video's clock, one per frame
    audio: np.ndarray | None  # mono float32 at the audio sample rate; None without a track
    audio_start: float  # seconds on the same clock
    width: int
    height: int
    duration: float


def decode_video(
    data: bytes,
    config: Any,
    audio_config: Any,
    frame_fn: Callable[[int, int], FrameFn] | None = None,
) -> DecodedVideo:
    """Decode under `config` (a `VideoConfig`); audio via `audio_config` (an `AudioConfig`).

    `frame_fn(width, height)` is called once the header is read and returns what to
    keep of each sampled frame (e.g. its patches): a full-size RGB frame is dropped as
    soon as that is made, so memory grows with the kept form, not with the resolution.
    Work is bounded by `max_packets` (both tracks) and `max_decoded_frames` (every video
    frame, sampled or not), whatever the timestamps claim.
    """
    _check_size(data, config)
    try:
        container = open_container(data)
    except MediaRejected as exc:
        raise MediaRejected("undecodable_video", exc.detail, stage=DECODE) from None
    with container:
        if not container.streams.video:
            raise MediaRejected("no_video_stream", "container has no video track", stage=DECODE)
        has_audio = bool(container.streams.audio)
        if not has_audio and config.require_audio:
            raise MediaRejected("no_audio_stream", "container has no audio track", stage=DECODE)
        stream = container.streams.video[0]
        width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        _check_resolution(width, height, config)
        origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        header_seconds = container.duration / 1_000_000 if container.duration else None
        if header_seconds is not None and header_seconds > config.max_seconds:
            raise MediaRejected(
                "too_long", f"{header_seconds:.1f}s > {config.max_seconds}s", stage=FILTER
            )
        keep = frame_fn(width, height) if frame_fn is not None else keep_image
        sampler = _FrameSampler(config, origin, (width, height), keep)
        collector = AudioCollector(audio_config) if has_audio else None
        streams = [stream] + ([container.streams.audio[0]] if has_audio else [])
        _demux(container, streams, sampler, collector, config)
    if not sampler.frames:
        raise MediaRejected("corrupt_video", "no decodable frame", stage=DECODE)
    audio, audio_start = None, 0.0
    if collector is not None:
        try:
            audio, start = collector.finish()
        except Exception as exc:
            raise MediaRejected("corrupt_audio", f"{type(exc).__name__}: {exc}") from None
        audio_start = start - origin
    duration = max(sampler.last, header_seconds or 0.0)
    if duration < config.min_seconds:
        raise MediaRejected("too_short", f"{duration:.2f}s < {config.min_seconds}s", stage=FILTER)
    return DecodedVideo(sampler.frames, sampler.times, audio, audio_start, width, height, duration)


def _check_size(data: bytes, config: Any) -> None:
    if not data:
        raise MediaRejected("empty_file", "0 bytes", stage=DECODE)
    if len(data) > config.max_file_bytes:
        raise MediaRejected(
            "file_too_large", f"{len(data)} > {config.max_file_bytes} bytes", stage=DECODE
        )


def _demux(container: Any, streams: list, sampler: Any, collector: Any, config: Any) -> None:
    """Every packet of both tracks through the sampler and the audio collector, budgeted."""
    packets = WorkBudget(config.max_packets, "packets", "too_many_packets")
    frames = WorkBudget(config.max_decoded_frames, "decoded frames", "too_many_frames")
    try:
        for packet in container.demux(*streams):
            packets.spend()
            for frame in packet.decode():
                if packet.stream.type == "video":
                    frames.spend()
                    sampler.add(frame)
                elif collector is not None:
                    collector.add(frame)
    except MediaRejected:
        raise
    except Exception as exc:
        raise MediaRejected(
            "corrupt_video", f"after {len(sampler.frames)} frames: {type(exc).__name__}: {exc}"
        ) from None


def _check_resolution(width: int, height: int, config: Any) -> None:
    if width < 1 or height < 1:
        raise MediaRejected("undecodable_video", f"frame size {width}x{height}", stage=DECODE)
    if width * height > config.max_pixels:
        raise MediaRejected(
            "too_many_pixels", f"{width}x{height} > {config.max_pixels}", stage=DECODE
        )
    if min(width, height) < config.min_side:
        raise MediaRejected(
            "low_resolution", f"{width}x{height}, min side {config.min_side}", stage=FILTER
        )


class _FrameSampler:
    """Keeps the first decoded frame at or after each multiple of 1 / frames_per_second."""

    def __init__(self, config: Any, origin: float, size: tuple[int, int], keep: FrameFn) -> None:
        self.config = config
        self.keep = keep
        self.origin = origin
        self.size = size
        self.step = 1.0 / config.frames_per_second
        self.frames: list[Any] = []
        self.times: list[float] = []
        self.next_index = 0
        self.last = 0.0

    def add(self, frame: Any) -> None:
        if frame.time is None:
            return
        t = float(frame.time) - self.origin
        length = float(frame.duration * frame.time_base) if frame.duration else 0.0
        self.last = max(self.last, t + length)
        if t > self.config.max_seconds:
            raise MediaRejected(
                "too_long", f"frame at {t:.1f}s > {self.config.max_seconds}s", stage=FILTER
            )
        if t + 1e-6 < self.next_index * self.step:
            return
        if (frame.width, frame.height) != self.size:
            _check_resolution(frame.width, frame.height, self.config)
            self.size = (frame.width, frame.height)
        self.frames.append(self.keep(frame.to_image()))
        self.times.append(t)
        self.next_index = int(np.floor(t / self.step + 1e-6)) + 1
