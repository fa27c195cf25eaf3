"""Media ids are unique before decoding: a repeated row or a reused id never reaches dedup."""

from __future__ import annotations

import base64
import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymix.core.config.media import MediaConfig
from polymix.core.config.sources import SourceConfig
from polymix.pipelines.media import MediaSource
from polymix.sample.media import MEDIA_SETTINGS, encode_image, synthetic_image
from polymix.transforms.example import Example, Rejection

OUTPUTS = ("kept", "rejected", "duplicates", "inputs")


class _Dump(beam.DoFn):
    def __init__(self, path: str) -> None:
        self.path = path

    def process(self, element):
        with open(self.path, "ab") as handle:
            handle.write(base64.b64encode(pickle.dumps(element)) + b"\n")


def _load(path) -> list:
    if not path.exists():
        return []
    return [pickle.loads(base64.b64decode(line)) for line in path.read_bytes().splitlines()]


def _image(seed: int, width: int = 96, height: int = 64) -> bytes:
    picture = synthetic_image(np.random.default_rng(seed), 96, 64)
    return encode_image(picture.resize((width, height)), "PNG")


TABLES = {
    # the same row twice, and another image
    "repeated": [("same", 1, 96), ("same", 1, 96), ("other", 2, 96)],
    # two different images under one id, and a resized copy of the first under a smaller id
    "reused": [("k", 3, 96), ("k", 4, 96), ("a", 3, 80)],
}


@pytest.fixture(scope="module")
def media_ids_run(tmp_path_factory) -> dict[str, dict[str, list]]:
    root = tmp_path_factory.mktemp("media_ids")
    media = MediaConfig.model_validate(MEDIA_SETTINGS)
    with beam.Pipeline() as pipeline:
        for name, rows in TABLES.items():
            (root / name).mkdir()
            table = [
                {"key": k, "image": _image(seed, width, width * 2 // 3)} for k, seed, width in rows
            ]
            pq.write_table(pa.Table.from_pylist(table), root / name / "t.parquet")
            source = SourceConfig.model_validate(
                {
                    "name": name,
                    "modality": "image",
                    "paths": [f"{name}/*.parquet"],
                    "format": "parquet",
                    "media_field": "image",
                    "id_field": "key",
                }
            )
            outputs = pipeline | f"Media[{name}]" >> MediaSource(
                source, media, str(root), None, 512
            )
            for tag in OUTPUTS:
                target = str(root / f"{name}.{tag}")
                _ = outputs[tag] | f"Dump[{name}.{tag}]" >> beam.ParDo(_Dump(target))
    return {name: {tag: _load(root / f"{name}.{tag}") for tag in OUTPUTS} for name in TABLES}


def test_a_repeated_row_keeps_one_copy_and_rejects_the_other(media_ids_run):
    got = media_ids_run["repeated"]
    assert sorted(e.id for e in got["kept"]) == ["other", "same"]
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [("same", "duplicate_id")]
    assert got["rejected"][0].example.media is None
    assert got["duplicates"] == []
    assert len(got["inputs"]) == 3


def test_two_different_images_with_one_id_do_not_crash_perceptual_dedup(media_ids_run):
    got = media_ids_run["reused"]
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [("k", "duplicate_id")]
    assert [e.id for e in got["kept"]] == ["a"]
    assert [(d.example.id, d.stage, d.kept_id) for d in got["duplicates"]] == [
        ("k", "phash_dedup", "a")
    ]
    assert all(isinstance(r, Rejection) and isinstance(r.example, Example) for r in got["rejected"])
