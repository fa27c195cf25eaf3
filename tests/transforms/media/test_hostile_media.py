"""The hostile media files through the readers and the processor (no Beam): each one ends
as its construction says, and everything an example carries is valid UTF-8 JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymix.core.config.media import MediaConfig
from polymix.core.config.sources import SourceConfig
from polymix.pipelines.media import source_spec
from polymix.transforms.example import Example, Rejection
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.process import MediaProcessor
from polymix.transforms.media.read import read_media_file, read_webdataset
from tests.support.hostile_media import MEDIA, SOURCES, write_hostile_media


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    return root, write_hostile_media(root, undecodable_file_name=True)


def _open(path: str):
    return Path(path).open("rb")


def _read(source: SourceConfig, media: MediaConfig, root: Path):
    spec = source_spec(source, media)
    folder = root / source.paths[0].split("/")[0]
    for path in sorted(folder.iterdir()):
        file_id = str(path.relative_to(root))
        if source.format == "files":
            size = path.stat().st_size
            yield from read_media_file(spec, _open, str(path), file_id, size)
        else:
            with open(path, "rb") as handle:
                yield from read_webdataset(spec, handle, str(path), file_id)


def _outcome(processor: MediaProcessor, item: Example | Rejection) -> tuple[Example, str]:
    if isinstance(item, Rejection):
        return item.example, f"{item.stage}/{item.reason}"
    try:
        processor.process(item)
    except MediaRejected as exc:
        return item, f"{exc.stage}/{exc.reason}"
    return item, "kept"


@pytest.mark.parametrize("entry", SOURCES, ids=[e["name"] for e in SOURCES])
def test_each_hostile_input_ends_as_built(corpus, entry):
    root, expected = corpus
    source, media = SourceConfig.model_validate(entry), MediaConfig.model_validate(MEDIA)
    processor = MediaProcessor(source.modality, media, None, 2048)
    got = {}
    for item in _read(source, media, root):
        example, outcome = _outcome(processor, item)
        fields = {"id": example.id, "text": example.text, "original": example.original}
        json.dumps(fields, ensure_ascii=False).encode("utf-8")  # what a side file writes
        got[example.id] = outcome
    assert got == expected.outcomes[source.name]
