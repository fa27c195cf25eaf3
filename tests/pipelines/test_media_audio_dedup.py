"""Audio near dedup end to end: files → decode → fingerprint → the perceptual dedup graph."""

from __future__ import annotations

import apache_beam as beam
import pytest

from polymix.core.config.media import MediaConfig
from polymix.core.config.sources import SourceConfig
from polymix.pipelines.media import MediaSource
from polymix.pipelines.media_dedup import CLUSTER_SIZE_ATTRIBUTE
from tests.support.group_probe import collect
from tests.transforms.media.clips import CODECS, RATE, encode, melody


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio_dedup")
    clip = melody(1, 4.0)
    for ext, options in CODECS.items():
        (root / f"song.{ext}").write_bytes(encode(clip, **options))
    (root / "other.wav").write_bytes(encode(melody(2, 4.0), "WAV", RATE))
    source = SourceConfig.model_validate(
        {"name": "songs", "modality": "audio", "paths": ["*.*"], "format": "files"}
    )
    with beam.Pipeline() as pipeline:
        media = MediaConfig.model_validate({"perceptual_dedup": {"max_rounds": 4}})
        out = pipeline | MediaSource(source, media, str(root), None, 4096)
        kept, duplicates = collect(out["kept"], "Kept"), collect(out["duplicates"], "Dups")
        rejected = collect(out["rejected"], "Rejected")
    return kept, duplicates, rejected


def test_one_clip_as_wav_ogg_and_mp3_is_one_cluster(audio_run):
    kept, duplicates, rejected = audio_run
    assert rejected == []
    assert sorted(e.id for e in kept) == ["other.wav", "song.mp3"]  # a cluster keeps its least id
    assert sorted((d.example.id, d.stage, d.kept_id) for d in duplicates) == [
        ("song.ogg", "phash_dedup", "song.mp3"),
        ("song.wav", "phash_dedup", "song.mp3"),
    ]
    assert all(d.similarity >= 0.9 for d in duplicates)
    sizes = {e.id: e.attributes[CLUSTER_SIZE_ATTRIBUTE] for e in kept}
    assert sizes == {"other.wav": 1, "song.mp3": 3}
