"""`polymix tag` reads what `run` reads: every text format, by suffix or as a config source says."""

import bz2
import csv
import json

import pytest

from polymix.cli import main
from polymix.sample import web_text

PAGES = web_text.make_documents("clean", 3, seed=5)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_csv(path, delimiter=","):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["doc", "body"])
        writer.writerows([f"d{i}", text] for i, text in enumerate(PAGES))


@pytest.mark.parametrize("name", ["pages.csv", "pages.csv.bz2"])
def test_tag_reads_csv_by_suffix(tmp_path, name):
    plain = tmp_path / "pages.csv"
    _write_csv(plain)
    path = tmp_path / name
    if name.endswith(".bz2"):
        path.write_bytes(bz2.compress(plain.read_bytes()))
    out = tmp_path / "tags.jsonl"
    args = ["tag", str(path), "--text-field", "body", "--id-field", "doc", "--stages", "c4"]
    assert main([*args, "--with-text", "--output", str(out)]) == 0
    rows = _rows(out)
    assert [row["id"] for row in rows] == ["d0", "d1", "d2"]
    assert all(row["text"] for row in rows)


def test_tag_reads_a_config_source_as_run_does(tmp_path):
    _write_csv(tmp_path / "pages.tsv", delimiter="\t")
    config = tmp_path / "polymix.yaml"
    source = {"name": "tabbed", "modality": "text", "format": "csv", "delimiter": "\t"}
    source |= {"paths": ["pages.tsv"], "text_field": "body", "id_field": "doc"}
    config.write_text(json.dumps({"sources": [source], "tokenizer": {"model": "spm.model"}}))
    out = tmp_path / "tags.jsonl"
    args = ["tag", str(tmp_path / "pages.tsv"), "--config", str(config), "--source", "tabbed"]
    assert main([*args, "--stages", "c4", "--output", str(out)]) == 0
    assert [row["id"] for row in _rows(out)] == ["d0", "d1", "d2"]
