import numpy as np
import pytest

from polymix.core.config.media import MediaConfig
from polymix.core.record_codec import decode
from polymix.sample.media import encode_video, moving_frames, tone
from polymix.trainer.data.layout import Layout, to_element
from polymix.transforms.example import Example
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.process import MediaProcessor
from polymix.transforms.media.video import decode_video

SR = 16_000


def _reason(call) -> tuple[str, str]:
    with pytest.raises(MediaRejected) as info:
        call()
    return info.value.stage, info.value.reason


def _flash_video(seconds: float = 3.0, at: float = 1.5) -> bytes:
    """Black and silent until `at`, then white with a tone: one event on both tracks."""
    frames = [
        np.full((48, 64, 3), 255 if i / 10 >= at else 0, np.uint8) for i in range(int(seconds * 10))
    ]
    audio = tone(800, seconds)
    audio[: int(at * SR)] = 0
    return encode_video(frames, audio)


def test_frames_are_sampled_at_the_configured_rate(media):
    data = encode_video(moving_frames(0, 64, 48, 25), tone(440, 2.5))
    video = decode_video(data, media.video, media.audio)
    assert video.times == pytest.approx([0.0, 1.0, 2.0])
    assert (video.width, video.height) == (64, 48) and video.frames[0].size == (64, 48)
    assert video.audio is not None and abs(len(video.audio) - 2.5 * SR) <= 1024  # one AAC frame
    twice = MediaConfig.model_validate({"video": {"frames_per_second": 2}})
    assert len(decode_video(data, twice.video, twice.audio).times) == 5


def test_frames_and_mel_share_one_clock():
    media = MediaConfig.model_validate({"video": {"frames_per_second": 4}})
    result = MediaProcessor("video", media, None, 4096).process(
        Example("s", "flash.mp4", "video", media=_flash_video())
    )
    (record,) = [decode(r.payload) for r in result.records]
    rows, cols = record.fields["grid"]
    brightness = record["patches"].reshape(record.fields["n_frames"], -1).mean(axis=1)
    frame_onset = float(record["frame_times"][int(np.argmax(brightness > 128))])
    energy = record["mel"].astype(np.float32).max(axis=1)
    mel_onset = (
        record.fields["mel_start_s"]
        + int(np.argmax(energy > energy.min() + 10)) * record.fields["hop_s"]
    )
    assert frame_onset == pytest.approx(1.5, abs=0.01)
    assert mel_onset == pytest.approx(1.5, abs=0.05)  # AAC smears an onset by a frame or two
    assert record["patches"].shape == (record.fields["n_frames"] * rows * cols, 16 * 16 * 3)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: encode_video(None, tone(440, 1.0)), ("decode", "no_video_stream")),
        (lambda: _flash_video()[:3000], ("decode", "undecodable_video")),
        (lambda: b"\x00\x00\x00\x18ftypmp42" + bytes(500), ("decode", "undecodable_video")),
        (lambda: b"", ("decode", "empty_file")),
        (
            lambda: encode_video(moving_frames(0, 24, 16, 10), tone(440, 1.0)),
            ("media_filter", "low_resolution"),
        ),
        (
            lambda: encode_video(moving_frames(0, 64, 48, 3), tone(440, 0.3)),
            ("media_filter", "too_short"),
        ),
    ],
    ids=["no_video", "truncated", "garbage", "empty", "low_res", "short"],
)
def test_bad_videos_are_rejected(media, make, expected):
    data = make()
    assert _reason(lambda: decode_video(data, media.video, media.audio)) == expected


def test_duration_limit(media):
    data = _flash_video(seconds=3.0)
    short = MediaConfig.model_validate({"video": {"max_seconds": 2.0}})
    assert _reason(lambda: decode_video(data, short.video, short.audio)) == (
        "media_filter",
        "too_long",
    )


def test_video_without_audio_is_rejected_when_audio_is_required():
    media = MediaConfig.model_validate({"video": {"require_audio": True}})
    data = encode_video(moving_frames(0, 64, 48, 10), None)
    call = lambda: decode_video(data, media.video, media.audio)  # noqa: E731
    assert _reason(call) == ("decode", "no_audio_stream")


def test_silent_video_is_kept_by_default_and_the_loader_lays_it_out(media):
    data = encode_video(moving_frames(0, 64, 48, 20), None)
    result = MediaProcessor("video", media, None, 512).process(
        Example("s", "v", "video", media=data)
    )
    (kept,) = result.records
    record = decode(kept.payload)
    assert "mel" not in record.arrays and record.fields["has_audio"] is False
    assert kept.positions == 2 * (2 + 12)
    element = to_element(record, Layout(seq_len=512))
    assert element["seq"].shape[0] == kept.positions
    assert element["frames"].shape[0] == 0 and element["patches"].shape[0] == 2 * 12


def _with_empty_audio_track(frames: list[np.ndarray]) -> bytes:
    """A Matroska file that declares an AAC track but holds no audio packet (MP4 drops such
    a track when muxing; screen and camera recorders write them)."""
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=SR)
        audio.layout = "mono"
        for pixels in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return buffer.getvalue()


def test_an_empty_audio_track_counts_as_no_audio(media):
    data = _with_empty_audio_track(moving_frames(0, 64, 48, 20))
    result = MediaProcessor("video", media, None, 512).process(
        Example("s", "v.mkv", "video", media=data)
    )
    (kept,) = result.records
    record = decode(kept.payload)
    assert record.fields["has_audio"] is False and "mel" not in record.arrays
    assert to_element(record, Layout(seq_len=512))["frames"].shape[0] == 0
    strict = MediaConfig.model_validate({"video": {"require_audio": True}})
    call = lambda: MediaProcessor("video", strict, None, 512).process(  # noqa: E731
        Example("s", "v.mkv", "video", media=data)
    )
    assert _reason(call) == ("decode", "empty_audio")
