"""WebDataset image-text pairs keep their caption and url, on the example and in its record."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile

import numpy as np

from polymix.core.config.media import MediaConfig
from polymix.core.record_codec import decode
from polymix.sample.media import encode_image, synthetic_image
from polymix.transforms.media.process import MediaProcessor
from polymix.transforms.media.read import MediaSourceSpec, read_webdataset
from polymix.transforms.media.strings import MAX_NAME_CHARS

SPEC = MediaSourceSpec("pairs", "image", "webdataset", 1 << 20, caption_field="txt")
PICTURE = encode_image(synthetic_image(np.random.default_rng(3), 96, 64), "JPEG")


def _shard(members: list[tuple[str, bytes]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _meta(**fields) -> bytes:
    return json.dumps(fields).encode()


def _read(members, spec: MediaSourceSpec = SPEC) -> dict:
    items = read_webdataset(spec, _shard(members), "s.tar", "s.tar")
    return {item.id.rsplit("/", 1)[-1]: item for item in items}


def test_caption_and_url_as_img2dataset_writes_them():
    """key.txt holds the caption, key.json the url (and the caption again, and more)."""
    meta = _meta(url="https://example.org/a.jpg", caption="A cat.", key="000", status="success")
    got = _read([("000.jpg", PICTURE), ("000.json", meta), ("000.txt", b"A cat.")])["000"]
    assert got.text == "A cat."
    assert got.attributes == {"caption": "A cat.", "url": "https://example.org/a.jpg"}
    original = got.original_object()
    assert (original["caption"], original["url"]) == ("A cat.", "https://example.org/a.jpg")


def test_the_json_caption_key_is_used_when_there_is_no_txt_sidecar():
    got = _read([("001.jpg", PICTURE), ("001.json", _meta(url="u1", caption="From json."))])
    assert got["001"].attributes == {"caption": "From json.", "url": "u1"}


def test_url_is_kept_without_a_caption_field_and_a_bad_json_costs_only_the_url():
    members = [("002.jpg", PICTURE), ("002.json", _meta(url="https://example.org/2"))]
    members += [("003.jpg", PICTURE), ("003.txt", b"Three."), ("003.json", b"{not json")]
    members += [("004.jpg", PICTURE), ("004.json", _meta(url=7))]
    plain = _read(members[:2], dataclasses.replace(SPEC, caption_field=None))
    assert plain["002"].text is None and plain["002"].attributes == {"url": "https://example.org/2"}
    got = _read(members)
    assert got["003"].attributes == {"caption": "Three."}
    assert got["004"].attributes == {}


def test_odd_and_long_urls_are_made_safe_names():
    members = [("005.jpg", PICTURE), ("005.json", b'{"url": "https://example.org/\\ud800"}')]
    members += [("006.jpg", PICTURE), ("006.json", _meta(url="https://example.org/" + "a" * 5000))]
    got = _read(members)
    assert got["005"].attributes["url"] == "https://example.org/\\ud800"
    assert len(got["006"].attributes["url"]) <= MAX_NAME_CHARS
    for item in got.values():
        json.dumps(item.attributes, ensure_ascii=False).encode("utf-8")  # writable as is


def test_the_record_carries_caption_and_url_even_without_a_tokenizer():
    meta = _meta(url="https://example.org/a.jpg")
    (example,) = _read([("000.jpg", PICTURE), ("000.json", meta), ("000.txt", b"A cat.")]).values()
    result = MediaProcessor("image", MediaConfig(), None, 512).process(example)
    (record,) = [decode(r.payload) for r in result.records]
    assert record.fields["caption"] == "A cat."
    assert record.fields["url"] == "https://example.org/a.jpg"
    assert "tokens" not in record.arrays


def test_a_cut_clip_carries_its_caption_in_its_first_record_only():
    from polymix.sample.media import encode_audio, tone
    from polymix.transforms.example import Example

    example = Example("talks", "t.wav", "audio", text="Hello.", attributes={"caption": "Hello."})
    data = encode_audio(tone(300, 2.9) + tone(450, 2.9, 0.2), "WAV")
    media = MediaConfig.model_validate({"audio": {"segment_seconds": 1.5}})
    processor = MediaProcessor("audio", media, None, 4096)
    records = [decode(r.payload) for r in processor.process(example.replace(media=data)).records]
    assert len(records) == 2
    assert [r.fields.get("caption") for r in records] == ["Hello.", None]
