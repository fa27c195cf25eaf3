import numpy as np
import pytest

from polymix.core.config.media import AudioConfig, MediaConfig
from polymix.core.record_codec import decode
from polymix.sample.media import encode_audio, tone
from polymix.transforms.example import Example
from polymix.transforms.media.audio import check_audio, decode_audio, silent_fraction
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.mel import MelExtractor
from polymix.transforms.media.process import MediaProcessor

SR = 16_000


def _reason(call) -> tuple[str, str]:
    with pytest.raises(MediaRejected) as info:
        call()
    return info.value.stage, info.value.reason


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("WAV", {}), ("FLAC", {}), ("OGG", {"subtype": "VORBIS"}), ("MP3", {})],
)
def test_formats_decode_to_mono_at_the_target_rate(fmt, options):
    signal = tone(440, 1.0, rate=22_050)
    decoded = decode_audio(encode_audio(signal, fmt, rate=22_050, **options), AudioConfig())
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert abs(len(decoded) - SR) < 0.06 * SR  # lossy codecs pad a little
    spectrum = np.abs(np.fft.rfft(decoded[: SR // 2]))
    assert abs(np.argmax(spectrum) * 2 - 440) <= 4  # the tone survives the round trip


def test_stereo_is_mixed_down():
    stereo = np.stack([tone(300, 1.0), -tone(300, 1.0)], axis=1)  # cancels when mixed
    decoded = decode_audio(encode_audio(stereo, "WAV", subtype="FLOAT"), AudioConfig())
    assert np.max(np.abs(decoded)) < 1e-6


def test_same_samples_in_wav_and_flac_decode_identically():
    samples = np.round(tone(440, 1.0) * 32767).astype(np.int16)
    wav = decode_audio(encode_audio(samples, "WAV", subtype="PCM_16"), AudioConfig())
    flac = decode_audio(encode_audio(samples, "FLAC", subtype="PCM_16"), AudioConfig())
    assert wav.tobytes() == flac.tobytes()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ("decode", "empty_file")),
        (encode_audio(np.zeros(0, np.float32), "WAV"), ("decode", "empty_audio")),
        (bytes(range(256)) * 16, ("decode", "undecodable_audio")),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", ("decode", "undecodable_audio")),
        (
            encode_audio(np.sign(tone(100, 1.0)), "WAV", subtype="FLOAT"),
            ("media_filter", "clipped"),
        ),
    ],
    ids=["empty", "zero_length", "garbage", "bad_header", "clipped"],
)
def test_bad_audio_is_rejected(data, expected):
    assert _reason(lambda: decode_audio(data, AudioConfig())) == expected


def test_duration_limit_is_checked_before_decoding():
    data = encode_audio(tone(440, 3.0), "FLAC")
    config = AudioConfig(max_seconds=2.0)
    assert _reason(lambda: decode_audio(data, config)) == ("media_filter", "too_long")


def test_filters_on_the_signal():
    config = AudioConfig()
    assert _reason(lambda: check_audio(tone(440, 0.3), config)) == ("media_filter", "too_short")
    quiet = np.concatenate([tone(440, 0.1), np.zeros(SR * 2, np.float32)])
    assert silent_fraction(quiet, SR, -50) > 0.9
    assert _reason(lambda: check_audio(quiet, config)) == ("media_filter", "mostly_silent")
    check_audio(tone(440, 1.0), config)


def test_mel_equals_librosa_on_the_whole_signal_and_in_pieces():
    import librosa

    config = AudioConfig()
    mel = MelExtractor(config)
    rng = np.random.default_rng(0)
    signal = (tone(300, 1.3) + 0.05 * rng.standard_normal(int(1.3 * SR))).astype(np.float32)
    reference = librosa.feature.melspectrogram(
        y=signal,
        sr=SR,
        n_fft=512,
        hop_length=160,
        win_length=400,
        n_mels=128,
        center=True,
        pad_mode="constant",
    )
    whole = mel.log_mel(signal)
    assert whole.shape == (1 + len(signal) // 160, 128) == reference.T.shape
    np.testing.assert_allclose(whole, np.log(np.maximum(reference.T, 1e-10)), atol=1e-3)
    pieces = np.concatenate([mel.log_mel(signal, 0, 37), mel.log_mel(signal, 37, len(whole))])
    np.testing.assert_allclose(pieces, whole, atol=1e-4)


def test_mel_frames_are_on_the_signal_clock():
    mel = MelExtractor(AudioConfig())
    signal = np.concatenate([np.zeros(SR, np.float32), tone(1000, 1.0)])  # tone from 1.0 s
    energy = mel.log_mel(signal).max(axis=1)
    onset = int(np.argmax(energy > energy.min() + 10))
    assert abs(onset * mel.hop_seconds - 1.0) <= 0.02


def test_long_clip_is_segmented_to_fit_and_transcript_goes_first():
    media = MediaConfig()
    processor = MediaProcessor("audio", media, None, max_seq_len=102)  # 100 positions of mel
    signal = tone(440, 9.0) + tone(880, 9.0, 0.1)
    result = processor.process(Example("s", "x.flac", "audio", media=encode_audio(signal, "FLAC")))
    records = [decode(r.payload) for r in result.records]
    assert [r.fields["id"] for r in records] == ["x.flac#0", "x.flac#1", "x.flac#2"]
    assert [len(r["mel"]) for r in records] == [400, 400, 101]
    assert all(r["mel"].dtype == np.float16 and r["mel"].shape[1] == 128 for r in records)
    assert [r.positions for r in result.records] == [102, 102, 28]
    assert records[1].fields["start_s"] == pytest.approx(4.0)
