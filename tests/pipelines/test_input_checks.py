"""Config mistakes about inputs, each refused in one line before any work starts."""

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import datasets
import pytest
import yaml

from polymix.cli import main
from polymix.core.config import load_config
from polymix.launch_checks import check_inputs


@pytest.fixture
def corpus(sample_corpus, tmp_path) -> Path:
    """A copy of the sample corpus whose config a test may edit."""
    config, _ = sample_corpus
    copy = tmp_path / "corpus"
    shutil.copytree(config.parent, copy)
    return copy


def edit(corpus: Path, change) -> Path:
    path = corpus / "polymix.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw))
    return path


def source(raw: dict, name: str) -> dict:
    return next(s for s in raw["sources"] if s["name"] == name)


def refused(config: Path, tmp_path: Path, capsys) -> str:
    """The one-line error of a run that must not start: nothing written where it would write."""
    output = tmp_path / "out"
    assert main(["run", str(config), "--output", str(output)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert not output.exists()
    return err


def test_the_sample_corpus_passes_every_check(sample_corpus):
    config, _ = sample_corpus
    check_inputs(load_config(config))


def test_a_text_field_missing_in_every_record_is_named_with_the_fields_seen(
    corpus, tmp_path, capsys
):
    config = edit(corpus, lambda raw: source(raw, "web").update(text_field="content"))
    err = refused(config, tmp_path, capsys)
    assert err.endswith(
        "sources[web].text_field: 'content' is missing in all 45 records read from 3 files; "
        "fields seen: id, url, kind, text, body"
    )


def test_a_text_field_that_is_empty_everywhere_is_named(corpus, tmp_path, capsys):
    (corpus / "notes").mkdir()
    rows = [{"id": i, "text": " ", "title": f"t{i}"} for i in range(30)]
    (corpus / "notes" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def add(raw):
        raw["sources"].append(
            {"name": "notes", "modality": "text", "paths": ["notes/*.jsonl"], "format": "jsonl"}
        )

    err = refused(edit(corpus, add), tmp_path, capsys)
    assert err.endswith(
        "sources[notes].text_field: 'text' is empty in all 20 records read from 1 file; "
        "fields seen: text, id, title"
    )


def test_a_nested_text_field_is_found_and_a_wrong_one_is_named(corpus, tmp_path, capsys):
    (corpus / "nested").mkdir()
    rows = [{"meta": {"body": f"text {i}"}} for i in range(5)]
    (corpus / "nested" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def add(field):
        def change(raw):
            entry = {"name": "nested", "modality": "text", "format": "jsonl"}
            raw["sources"].append({**entry, "paths": ["nested/*.jsonl"], "text_field": field})

        return change

    check_inputs(load_config(edit(corpus, add("meta.body"))))
    config = corpus / "polymix.yaml"
    raw = yaml.safe_load(config.read_text())
    source(raw, "nested")["text_field"] = "meta.text"
    config.write_text(yaml.safe_dump(raw))
    err = refused(config, tmp_path, capsys)
    assert "'meta.text' is missing in all 5 records" in err and "meta.body" in err


def test_a_language_name_in_keep_is_refused_with_the_code_meant(corpus, tmp_path, capsys):
    def keep(raw):
        raw["filters"]["language"] = {"keep": ["en", "english"]}

    err = refused(edit(corpus, keep), tmp_path, capsys)
    assert err.endswith(
        "filters.language.keep: 'english' is not a language code lid.176 knows; did you mean 'en'?"
    )


@pytest.mark.parametrize(
    "name, wrong, parses_as",
    [("books", "jsonl", "invalid_utf8"), ("web", "parquet", "unreadable_file")],
)
def test_a_format_nothing_parses_in_is_named(corpus, tmp_path, capsys, name, wrong, parses_as):
    config = edit(corpus, lambda raw: source(raw, name).update(format=wrong))
    err = refused(config, tmp_path, capsys)
    assert f"sources[{name}].format: {wrong}, but nothing in the first " in err
    assert f"parses as {wrong} ({parses_as} " in err


def test_webdataset_on_a_folder_of_jpegs_is_named(corpus, tmp_path, capsys):
    def change(raw):
        source(raw, "images").update(format="webdataset", paths=["images/*.jpg"])

    err = refused(edit(corpus, change), tmp_path, capsys)
    assert "sources[images].format: webdataset, but nothing in the first " in err


@pytest.mark.parametrize(
    "path, hint",
    [
        ("s3://bucket/web/*.jsonl", "install apache-beam[aws]"),
        ("foo://bucket/web/*.jsonl", "Beam reads local paths, gs://, s3://, azfs:// and hdfs://"),
    ],
)
def test_a_path_on_a_filesystem_beam_lacks_names_the_scheme(corpus, tmp_path, capsys, path, hint):
    if path.startswith("s3") and importlib.util.find_spec("boto3") is not None:
        pytest.skip("apache-beam[aws] is installed here")
    config = edit(corpus, lambda raw: source(raw, "web").update(paths=[path]))
    err = refused(config, tmp_path, capsys)
    scheme = path.split(":")[0]
    assert err.endswith(
        f"no filesystem for scheme '{scheme}' (sources[web].paths: {path}); {hint}"
    ), err
    assert main(["run", str(config), "--output", str(tmp_path / "dry"), "--dry-run"]) == 2
    assert f"no filesystem for scheme '{scheme}'" in capsys.readouterr().err


def test_hf_arrow_on_the_dataset_folder_says_to_name_its_arrow_files(corpus, tmp_path, capsys):
    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(corpus / "wiki")
    capsys.readouterr()  # its progress bar

    def add(paths):
        def change(raw):
            entry = {"name": "wiki", "modality": "text", "format": "hf_arrow", "paths": paths}
            raw["sources"].append(entry)

        return change

    err = refused(edit(corpus, add(["wiki"])), tmp_path, capsys)
    assert "sources[wiki].paths: " in err and "wiki/*.arrow" in err
    raw = yaml.safe_load((corpus / "polymix.yaml").read_text())
    source(raw, "wiki")["paths"] = ["wiki/*"]
    (corpus / "polymix.yaml").write_text(yaml.safe_dump(raw))
    err = refused(corpus / "polymix.yaml", tmp_path, capsys)
    assert "format hf_arrow reads the .arrow files" in err
    source(raw, "wiki")["paths"] = ["wiki/*.arrow"]
    (corpus / "polymix.yaml").write_text(yaml.safe_dump(raw))
    check_inputs(load_config(corpus / "polymix.yaml"))


def test_csv_with_the_wrong_delimiter_is_named(corpus, tmp_path, capsys):
    (corpus / "table").mkdir()
    rows = [["id", "text"], ["a", "hello, world"], ["b", "more, commas, here"]]
    with (corpus / "table" / "t.tsv").open("w", newline="") as handle:
        csv.writer(handle, delimiter="\t").writerows(rows)

    def add(raw):
        entry = {"name": "table", "modality": "text", "format": "csv", "paths": ["table/*.tsv"]}
        raw["sources"].append(entry)

    err = refused(edit(corpus, add), tmp_path, capsys)
    assert err.endswith(
        "sources[table].format: csv (delimiter ','), but nothing in the first 2 inputs of 1 "
        "file parses as csv (delimiter ',') (malformed_row 2); t.tsv:2: 2 fields; the header has 1"
    )
    raw = yaml.safe_load((corpus / "polymix.yaml").read_text())
    source(raw, "table")["delimiter"] = "\t"
    (corpus / "polymix.yaml").write_text(yaml.safe_dump(raw))
    check_inputs(load_config(corpus / "polymix.yaml"))


@pytest.mark.parametrize(
    "written, meant",
    [
        ("english", "en"),
        ("English", "en"),
        ("Englsh", "en"),
        ("en_US", "en"),
        ("pt-BR", "pt"),
        ("__label__fr", "fr"),
        ("deu", "de"),  # not "eu": a 3-letter code is cut before any fuzzy guess
        ("zho", "zh"),
        ("japanese", "ja"),
        ("spa", None),  # nothing honest to suggest
        ("klingon", None),
    ],
)
def test_the_suggested_code_comes_from_the_models_own_labels(written, meant):
    from polymix.launch_checks import model_labels, suggested_code
    from polymix.transforms.filters import fasttext_models

    labels = model_labels(fasttext_models.load(fasttext_models.lid_model_path()))
    assert len(labels) == 176
    assert suggested_code(written, labels) == meant


def test_the_sample_holds_a_few_kib_per_input_whatever_the_lines_hold(tmp_path):
    from polymix.core.config import parse_config
    from polymix.pipelines.preview import sample_source

    blob = "b" * 1_000_000
    lines = [json.dumps({"id": i, "text": blob, "meta": {"blob": blob}}) for i in range(10)]
    lines += ['{"broken": "' + blob for _ in range(10)]  # invalid JSON, 1 MB each
    for name in ("a", "b", "c", "d"):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    raw = {"name": "big", "modality": "text", "format": "jsonl", "paths": [f"{tmp_path}/*.jsonl"]}
    config = parse_config({"sources": [raw]})
    sample = sample_source(config.sources[0], config)
    assert sample.file_ids == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert len(sample.items) == 60
    held = sum(
        len(i.original) + len(i.text or "")
        if hasattr(i, "original")
        else len(i.example.original) + len(i.detail)
        for i in sample.items
    )
    assert held < 60 * 2048, held
