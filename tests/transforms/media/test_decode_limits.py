"""Decoding is bounded by work (packets, frames, samples, pixels), never by elapsed time:
the same file gets the same decision on an idle machine, a loaded one, or a clock that
jumps."""

from __future__ import annotations

import itertools
import time

import pytest

from polymix.core.config import ConfigError, parse_config
from polymix.core.config.media import MediaConfig
from polymix.sample.media import encode_video, moving_frames, tone
from polymix.transforms.example import Example
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.process import MediaProcessor
from polymix.transforms.media.video import decode_video


def _jumping_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every clock read is an hour after the last: any wall-clock budget is spent."""
    ticks = itertools.count(start=1_000_000.0, step=3600.0)
    for name in ("monotonic", "perf_counter", "time"):
        monkeypatch.setattr(time, name, lambda: next(ticks))
    for name in ("monotonic_ns", "perf_counter_ns", "time_ns"):
        monkeypatch.setattr(time, name, lambda: int(next(ticks) * 1e9))


def _outcome(modality: str, data: bytes, media: MediaConfig) -> tuple:
    try:
        result = MediaProcessor(modality, media, None, 2048).process(
            Example("s", "x", modality, media=data)
        )
    except MediaRejected as exc:
        return ("rejected", exc.stage, exc.reason)
    return ("kept", result.content_key, tuple(r.payload for r in result.records))


@pytest.mark.parametrize(
    ("modality", "make"),
    [
        ("video", lambda: encode_video(moving_frames(0, 64, 48, 30), tone(440, 3.0))),
        ("audio", lambda: encode_video(None, tone(440, 2.0))),  # AAC in MP4: FFmpeg's path
    ],
    ids=["video", "audio-ffmpeg"],
)
def test_the_decision_does_not_depend_on_the_clock(monkeypatch, modality, make):
    data, media = make(), MediaConfig()
    calm = _outcome(modality, data, media)
    assert calm[0] == "kept"
    _jumping_clock(monkeypatch)
    assert _outcome(modality, data, media) == calm


def test_decoded_frames_are_bounded_by_count():
    data = encode_video(moving_frames(1, 64, 48, 60), tone(440, 2.0), fps=30)  # 60 frames
    few = MediaConfig.model_validate({"video": {"max_decoded_frames": 40}})
    with pytest.raises(MediaRejected) as info:
        decode_video(data, few.video, few.audio)
    assert (info.value.stage, info.value.reason) == ("decode", "too_many_frames")
    enough = MediaConfig.model_validate({"video": {"max_decoded_frames": 60}})
    assert len(decode_video(data, enough.video, enough.audio).frames) == 2


def test_demuxed_packets_are_bounded_by_count():
    data = encode_video(moving_frames(2, 64, 48, 20), tone(440, 2.0))
    few = MediaConfig.model_validate({"video": {"max_packets": 10}})
    with pytest.raises(MediaRejected) as info:
        decode_video(data, few.video, few.audio)
    assert (info.value.stage, info.value.reason) == ("decode", "too_many_packets")
    audio = encode_video(None, tone(440, 2.0))
    few = MediaConfig.model_validate({"audio": {"max_packets": 10}})
    assert _outcome("audio", audio, few) == ("rejected", "decode", "too_many_packets")


def test_the_old_timeout_key_names_its_replacements():
    raw = {"sources": [{"name": "v", "modality": "video", "paths": ["*.mp4"], "format": "files"}]}
    with pytest.raises(ConfigError, match="decode_timeout_s.*max_decoded_frames.*max_packets"):
        parse_config({**raw, "media": {"decode_timeout_s": 60}})
