"""Every text format through Beam's `ReadTextSource`: each input accounted for once, ids
relative to the source root, the same from any folder."""

from __future__ import annotations

import base64
import bz2
import csv
import gzip
import io
import lzma
import pickle
import shutil
from pathlib import Path

import apache_beam as beam
import datasets
import pytest

from polymix.core.config.sources import SourceConfig
from polymix.pipelines.read import ReadTextSource
from polymix.transforms.example import Example


class _Dump(beam.DoFn):
    def __init__(self, path: str) -> None:
        self.path = path

    def process(self, element):
        with open(self.path, "ab") as handle:
            handle.write(base64.b64encode(pickle.dumps(element)) + b"\n")


def _load(path: Path) -> list:
    if not path.exists():
        return []
    return [pickle.loads(base64.b64decode(line)) for line in path.read_bytes().splitlines()]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def make_corpus(root: Path) -> None:
    (root / "tables").mkdir(parents=True)
    rows = [["id", "meta.body"]] + [[f"r{i}", f"row {i},\nwith a newline"] for i in range(50)]
    (root / "tables" / "a.csv.gz").write_bytes(gzip.compress(_csv(rows)))
    (root / "tables" / "b.csv").write_bytes(_csv([["id", "meta.body"], ["x", "y", "extra"]]))
    books = root / "books" / "shelf"
    books.mkdir(parents=True)
    (books / "one.txt").write_text("The first book.")
    (books / "two.txt.bz2").write_bytes(bz2.compress("The second book, ü.".encode()))
    (books / "three.txt.xz").write_bytes(lzma.compress(b"\xffnot utf-8"))
    splits = datasets.DatasetDict(
        train=datasets.Dataset.from_dict({"doc": [{"text": f"train {i}"} for i in range(30)]}),
        test=datasets.Dataset.from_dict({"doc": [{"text": "test 0"}, {"text": None}]}),
    )
    splits.save_to_disk(root / "wiki")


SOURCES = {
    "tables": ("csv", ["tables/*.csv*"], {"text_field": "meta.body", "id_field": "id"}),
    "books": ("text", ["books/**/*.txt*"], {}),
    "wiki": ("hf_arrow", ["wiki/*/*.arrow"], {"text_field": "doc.text"}),
}


def run(root: Path, out: Path) -> dict[str, dict[str, list]]:
    out.mkdir()
    with beam.Pipeline() as pipeline:
        for name, (fmt, paths, fields) in SOURCES.items():
            source = SourceConfig.model_validate(
                {"name": name, "modality": "text", "format": fmt, "paths": paths, **fields}
            )
            patterns = [str(root / p) for p in paths]
            outputs = pipeline | f"Read[{name}]" >> ReadTextSource(source, patterns)
            for tag in ("examples", "rejected"):
                target = str(out / f"{name}.{tag}")
                _ = outputs[tag] | f"Dump[{name}.{tag}]" >> beam.ParDo(_Dump(target))
    return {
        name: {tag: _load(out / f"{name}.{tag}") for tag in ("examples", "rejected")}
        for name in SOURCES
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("formats") / "corpus"
    make_corpus(root)
    return root


@pytest.fixture(scope="module")
def runs(corpus) -> list[dict]:
    return [run(corpus, corpus.parent / "out")]


def _ids(items: list) -> list[str]:
    return sorted(i.id if isinstance(i, Example) else i.example.id for i in items)


def test_csv_records_and_the_malformed_row_are_each_one_input(runs):
    got = runs[0]["tables"]
    assert sorted((e.id, e.text) for e in got["examples"]) == sorted(
        (f"r{i}", f"row {i},\nwith a newline") for i in range(50)
    )
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [("b.csv:2", "malformed_row")]


def test_text_files_are_documents_with_ids_relative_to_the_root(runs):
    got = runs[0]["books"]
    assert sorted((e.id, e.text) for e in got["examples"]) == [
        ("shelf/one.txt", "The first book."),
        ("shelf/two.txt.bz2", "The second book, ü."),
    ]
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [
        ("shelf/three.txt.xz", "invalid_utf8")
    ]


def test_a_dataset_dict_reads_every_split_row(runs):
    got = runs[0]["wiki"]
    assert len(got["examples"]) == 31
    assert "test/data-00000-of-00001.arrow:0" in _ids(got["examples"])
    assert [(r.example.id, r.reason) for r in got["rejected"]] == [
        ("test/data-00000-of-00001.arrow:1", "missing_text_field")
    ]


@pytest.mark.slow
def test_the_same_corpus_elsewhere_gives_the_same_ids_and_texts(runs, corpus, tmp_path):
    moved = tmp_path / "deeper" / "copy"
    shutil.copytree(corpus, moved)
    here, there = runs[0], run(moved, tmp_path / "out")
    for name in SOURCES:
        for tag in ("examples", "rejected"):
            assert _ids(here[name][tag]) == _ids(there[name][tag]), (name, tag)
        assert sorted(e.text for e in here[name]["examples"]) == sorted(
            e.text for e in there[name]["examples"]
        )
