"""Audio fingerprints: one clip in three codecs hashes close, another clip far."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from polymix.core.config.media import MediaConfig
from polymix.transforms.example import Example
from polymix.transforms.media.phash import signature_distance
from polymix.transforms.media.process import MediaProcessor
from tests.transforms.media.clips import CODECS, PLUCK, RATE, encode, melody, plucks

MEDIA = MediaConfig()
LIMIT = MEDIA.perceptual_dedup.max_distance
HASH_BYTES = MEDIA.perceptual_dedup.hash_size**2 // 8


@pytest.fixture(scope="module")
def processor() -> MediaProcessor:
    return MediaProcessor("audio", MEDIA, None, 4096)


def _signature(processor: MediaProcessor, data: bytes) -> bytes:
    return processor.process(Example("s", "clip", "audio", media=data)).signature


def _distances(processor, signal: np.ndarray, other: np.ndarray, rate: int = RATE):
    signatures = {
        name: _signature(processor, encode(signal, rate=rate, **options))
        for name, options in CODECS.items()
    }
    unrelated = _signature(processor, encode(other, "WAV", rate))
    copies = [signature_distance(signatures["wav"], s, HASH_BYTES) for s in signatures.values()]
    return copies, signature_distance(signatures["wav"], unrelated, HASH_BYTES), signatures


@pytest.mark.parametrize("seconds", [2.0, 6.0])
def test_one_clip_in_three_codecs_is_close_and_another_clip_is_far(processor, seconds):
    copies, unrelated, signatures = _distances(processor, melody(1, seconds), melody(2, seconds))
    assert all(len(s) == HASH_BYTES for s in signatures.values())  # one window
    assert max(copies) <= LIMIT // 2, copies
    assert unrelated > 2 * LIMIT, unrelated


@pytest.mark.slow
def test_a_long_clip_is_signed_by_windows_spread_over_it(processor):
    copies, unrelated, signatures = _distances(processor, melody(3, 40.0), melody(4, 40.0))
    assert all(len(s) == 8 * HASH_BYTES for s in signatures.values())
    assert max(copies) <= LIMIT // 2, copies
    assert unrelated > LIMIT + 6, unrelated


@pytest.mark.skipif(not PLUCK.exists(), reason="CPython's test audio is not installed")
def test_a_recorded_sound_survives_the_codecs(processor):
    signal, rate = plucks([0.1, 0.5, 0.7, 1.3, 1.6, 2.2], 2.6)
    other, _ = plucks([0.2, 0.4, 1.0, 1.1, 1.9, 2.0], 2.6)
    copies, unrelated, _ = _distances(processor, signal, other, rate)
    assert max(copies) <= LIMIT, copies
    assert unrelated > 2 * LIMIT, unrelated


def test_a_louder_copy_hashes_the_same(processor):
    clip = melody(5, 3.0)
    quiet = _signature(processor, encode(clip * 0.3, "WAV", RATE))
    assert signature_distance(_signature(processor, encode(clip, "WAV", RATE)), quiet, 8) <= 2


def test_without_perceptual_dedup_audio_is_not_signed():
    media = MediaConfig.model_validate({"perceptual_dedup": {"enabled": False}})
    processor = MediaProcessor("audio", media, None, 4096)
    assert _signature(processor, encode(melody(1, 1.0), "WAV", RATE)) == b""


REAL = Path(os.environ.get("POLYMIX_CACHE", "~/.cache/polymix")).expanduser() / "real_audio"


@pytest.mark.skipif(
    not (REAL / "alsa").exists(), reason="benchmarks/real_audio.py has not built its cache"
)
def test_debian_ships_one_recording_as_wav_and_as_ogg(processor):
    """alsa-utils' "Front Center" WAV and freedesktop's Ogg of it, encoded by others."""
    signature = {
        name: _signature(processor, (REAL / name).read_bytes())
        for name in (
            "alsa/Front_Center.wav",
            "freedesktop/stereo/audio-channel-front-center.oga",
            "alsa/Front_Left.wav",
        )
    }
    wav, ogg, other = signature.values()
    assert signature_distance(wav, ogg, HASH_BYTES) <= LIMIT
    assert signature_distance(wav, other, HASH_BYTES) > LIMIT


def test_the_signature_does_not_depend_on_how_the_clip_is_cut_into_records():
    data = encode(melody(6, 20.0), "WAV", RATE)
    signatures = []
    for seconds in (30.0, 3.0, 0.7):
        media = MediaConfig.model_validate({"audio": {"segment_seconds": seconds}})
        result = MediaProcessor("audio", media, None, 4096).process(
            Example("s", "clip", "audio", media=data)
        )
        signatures.append((len(result.records), result.signature))
    assert [n for n, _ in signatures] == [1, 7, 29]
    assert len({s for _, s in signatures}) == 1 and len(signatures[0][1]) == 8 * HASH_BYTES
