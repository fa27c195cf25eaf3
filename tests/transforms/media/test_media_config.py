"""The media config section and the source formats media adds (schema only, no I/O)."""

import pytest
from pydantic import ValidationError

from polymix.core.config.example import render_model
from polymix.core.config.media import MediaConfig, PerceptualDedupConfig
from polymix.core.config.sources import SourceConfig


def test_every_media_key_is_documented_and_renders():
    lines = render_model(MediaConfig, None)
    assert any(line.strip().startswith("max_pixels:") for line in lines)
    assert any(line.strip().startswith("segment_seconds:") for line in lines)
    for section in MediaConfig.model_fields.values():
        assert section.description


def test_perceptual_distances_must_fit_the_hash():
    assert PerceptualDedupConfig().floor_distance() == 10
    assert PerceptualDedupConfig(cluster_floor=4).floor_distance() == 4
    with pytest.raises(ValidationError):
        PerceptualDedupConfig(hash_size=4, max_distance=20)
    with pytest.raises(ValidationError, match="Extra inputs"):
        PerceptualDedupConfig(bands=4)  # bands now follow the corpus size


def test_media_formats_only_for_media_sources():
    ok = SourceConfig(name="p", modality="image", paths=["*.tar"], format="webdataset")
    assert ok.caption_field is None and ok.media_field == "media"
    with pytest.raises(ValidationError, match="for image, audio and video"):
        SourceConfig(name="t", modality="text", paths=["*.jpg"], format="files")
    with pytest.raises(ValidationError, match="read files, webdataset or parquet"):
        SourceConfig(name="a", modality="audio", paths=["*.jsonl"], format="jsonl")
    text = SourceConfig(name="t", modality="text", paths=["*.jsonl"], format="jsonl")
    assert text.text_field == "text"  # the text sources' keys are unchanged
