"""The media sources on Beam's DirectRunner, over the generated media corpus (one run)."""

from __future__ import annotations

import base64
import json
import pickle
from collections import Counter
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from polymix.core.config.media import MediaConfig
from polymix.core.config.sources import SourceConfig
from polymix.core.record_codec import decode
from polymix.core.record_layout import record_positions
from polymix.pipelines.media import MediaSource
from polymix.sample.media import MAX_SEQ_LEN, MEDIA_SETTINGS, MEDIA_SOURCES, generate_media
from polymix.transforms.example import Duplicate, Example, Rejection, TokenizedRecord
from polymix.transforms.media.process import MediaProcessor
from polymix.transforms.media.records import units
from polymix.transforms.sentencepiece_tokenizer import BOS_ID, EOS_ID, train_sentencepiece

OUTPUTS = ("records", "kept", "rejected", "duplicates", "inputs")


class _Dump(beam.DoFn):
    """Append each element, pickled, to a file (DirectRunner runs in this process)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def process(self, element):
        with open(self.path, "ab") as handle:
            handle.write(base64.b64encode(pickle.dumps(element)) + b"\n")


def _load(path: Path) -> list:
    if not path.exists():
        return []
    return [pickle.loads(base64.b64decode(line)) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def media_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    expected = generate_media(root / "corpus", seed=3)
    captions = [f"A generated picture number {i}. Caption of pair {i}." for i in range(20)]
    proto_path = root / "spm.model"
    train_sentencepiece(captions * 5, proto_path, vocab_size=400)
    proto = proto_path.read_bytes()
    media = MediaConfig.model_validate(MEDIA_SETTINGS)
    out = root / "out"
    out.mkdir()
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as pipeline:
        for entry in MEDIA_SOURCES:
            source = SourceConfig.model_validate(entry)
            outputs = pipeline | f"Media[{source.name}]" >> MediaSource(
                source, media, str(root / "corpus"), proto, MAX_SEQ_LEN
            )
            for tag in OUTPUTS:
                target = str(out / f"{source.name}.{tag}")
                _ = outputs[tag] | f"Dump[{source.name}.{tag}]" >> beam.ParDo(_Dump(target))
    results = {
        entry["name"]: {tag: _load(out / f"{entry['name']}.{tag}") for tag in OUTPUTS}
        for entry in MEDIA_SOURCES
    }
    return expected, results, media, proto, root / "corpus"


def test_every_input_ends_exactly_once_with_the_expected_reason(media_run):
    expected, results, _, _, _ = media_run
    for name, got in results.items():
        inputs = got["inputs"]
        assert len(inputs) == expected.input[name], name
        ids = [i.example.id if isinstance(i, Rejection) else i.id for i in inputs]
        ends = (
            [e.id for e in got["kept"]]
            + [r.example.id for r in got["rejected"]]
            + [d.example.id for d in got["duplicates"]]
        )
        assert sorted(ends) == sorted(ids), name
        reasons = Counter(f"{r.stage}/{r.reason}" for r in got["rejected"])
        assert reasons == expected.rejected.get(name, Counter()), name
        stages = Counter(d.stage for d in got["duplicates"])
        assert stages == expected.duplicates.get(name, Counter()), name
        assert len(got["kept"]) == expected.kept[name], name
        assert len(got["records"]) == expected.records[name], name
        assert all(isinstance(e, Example) and e.media is None for e in got["kept"])


def test_duplicates_name_a_kept_example_of_their_source(media_run):
    _, results, _, _, _ = media_run
    for got in results.values():
        kept = {e.id for e in got["kept"]}
        for duplicate in got["duplicates"]:
            assert isinstance(duplicate, Duplicate)
            assert duplicate.kept_id in kept and duplicate.kept_id != duplicate.example.id
            assert 0.8 < duplicate.similarity <= 1.0
    images = {d.example.id: d.kept_id for d in results["images"]["duplicates"]}
    assert images == {
        "img-000.jpg": "copy-000.jpg",
        "img-001.png": "img-001-small.png",
        "img-002.jpg": "img-002-q35.jpg",
        "img-003.png": "img-003-crop.png",
    }


def test_records_fit_and_decode_to_what_the_transform_produced(media_run):
    _, results, media, proto, corpus = media_run
    for name, got in results.items():
        for record in got["records"]:
            assert isinstance(record, TokenizedRecord)
            decoded = decode(record.payload)
            assert decoded.fields["id"] == record.id and decoded.fields["source"] == name
            assert record.positions == record_positions(decoded) <= MAX_SEQ_LEN
            assert sum(units(decoded).values()) > 0
            if "tokens" in decoded.arrays:
                assert decoded["tokens"][0] == BOS_ID and decoded["tokens"][-1] == EOS_ID
    # round trip: the pipeline's bytes equal what the processor makes from the same file
    processor = MediaProcessor("image", media, proto, MAX_SEQ_LEN)
    data = (corpus / "images" / "img-004.jpg").read_bytes()
    example = Example("images", "img-004.jpg", "image", media=data)
    direct = processor.process(example).records[0]
    (piped,) = [r for r in results["images"]["records"] if r.id == "img-004.jpg"]
    assert piped.payload == direct.payload
    a, b = decode(piped.payload), decode(direct.payload)
    assert np.array_equal(a["patches"], b["patches"])
    captioned = [r for r in results["image_pairs"]["records"] if "tokens" in decode(r.payload)]
    assert len(captioned) == 5


def test_long_audio_and_video_are_cut_into_aligned_segments(media_run):
    _, results, media, _, _ = media_run
    audio = sorted(
        (decode(r.payload) for r in results["audio"]["records"] if r.id.startswith("long")),
        key=lambda r: r.fields["chunk"],
    )
    assert [r.fields["id"] for r in audio] == ["long.flac#0", "long.flac#1"]
    first, second = audio
    assert second.fields["start_s"] == pytest.approx(len(first["mel"]) * first.fields["hop_s"])
    total = len(first["mel"]) + len(second["mel"])
    assert total == 1 + 25 * media.audio.sample_rate // 160
    video = sorted(
        (decode(r.payload) for r in results["videos"]["records"] if "long" in r.id),
        key=lambda r: r.fields["chunk"],
    )
    assert [r.fields["n_frames"] for r in video] == [10, 2]
    for record in video:
        times = record["frame_times"]
        assert np.all(times >= record.fields["start_s"] - 1e-6)
        assert np.all(times < record.fields["end_s"])
        mel_start = record.fields["mel_start_s"]
        mel_end = mel_start + (len(record["mel"]) - 1) * record.fields["hop_s"]
        assert record.fields["start_s"] <= mel_start < record.fields["start_s"] + 0.011
        assert mel_end < record.fields["end_s"]
    assert json.dumps(video[0].fields["grid"]) == "[3, 4]"


@pytest.mark.slow
def test_records_do_not_depend_on_the_number_of_workers(media_run, tmp_path):
    _, results, media, proto, corpus = media_run
    source = SourceConfig.model_validate(MEDIA_SOURCES[0])
    target = tmp_path / "records"
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    with beam.Pipeline(options=options) as pipeline:
        outputs = pipeline | MediaSource(source, media, str(corpus), proto, MAX_SEQ_LEN)
        _ = outputs["records"] | beam.ParDo(_Dump(str(target)))
    two = sorted((r.id, r.payload) for r in _load(target))
    one = sorted((r.id, r.payload) for r in results["images"]["records"])
    assert two == one
