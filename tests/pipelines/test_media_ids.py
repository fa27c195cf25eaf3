"""Media ids are unique before decoding: a repeated row or a reused id never reaches dedup."""

from __future__ import annotations

import base64
import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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


def _run(tmp_path, rows: list[dict]) -> dict[str, list]:
    folder = tmp_path / "table"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "t.parquet")
    source = SourceConfig.model_validate(
        {
            "name": "pics",
            "modality": "image",
            "paths": ["table/*.parquet"],
            "format": "parquet",
            "media_field": "image",
            "id_field": "key",
        }
    )
    media = MediaConfig.model_validate(MEDIA_SETTINGS)
    with beam.Pipeline() as pipeline:
        outputs = pipeline | MediaSource(source, media, str(tmp_path), None, 512)
        for tag in OUTPUTS:
            _ = outputs[tag] | f"Dump[{tag}]" >> beam.ParDo(_Dump(str(tmp_path / tag)))
    return {tag: _load(tmp_path / tag) for tag in OUTPUTS}


def _image(seed: int, width: int = 96, height: int = 64) -> bytes:
    picture = synthetic_image(np.random.default_rng(seed), 96, 64)
    return encode_image(picture.resize((width, height)), "PNG")


def test_a_repeated_row_keeps_one_copy_and_rejects_the_other(tmp_path):
    rows = [{"key": "same", "image": _image(1)}, {"key": "same", "image": _image(1)}]
    rows.append({"key": "other", "image": _image(2)})
    got = _run(tmp_path, rows)
    assert sorted(e.id for e in got["kept"]) == ["other", "same"]
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [("same", "duplicate_id")]
    assert got["rejected"][0].example.media is None
    assert got["duplicates"] == []
    assert len(got["inputs"]) == 3


def test_two_different_images_with_one_id_do_not_crash_perceptual_dedup(tmp_path):
    rows = [{"key": "k", "image": _image(3)}, {"key": "k", "image": _image(4)}]
    rows += [{"key": "a", "image": _image(3, 80, 53)}]  # a resized copy of the first, a smaller id
    got = _run(tmp_path, rows)
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [("k", "duplicate_id")]
    assert [e.id for e in got["kept"]] == ["a"]
    assert [(d.example.id, d.stage, d.kept_id) for d in got["duplicates"]] == [
        ("k", "phash_dedup", "a")
    ]
    assert all(isinstance(r, Rejection) and isinstance(r.example, Example) for r in got["rejected"])
