"""`polymix tag` and `polymix classifier train` from the command line, on small generated files."""

import json

import pytest

from polymix.cli import main
from polymix.sample.web_text import make_corpus, make_documents


def _write_jsonl(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_tag_explains_every_document(tmp_path, capsys):
    docs = make_corpus(40, seed=2, foreign_fraction=0.25)
    source = _write_jsonl(tmp_path / "docs.jsonl", docs)
    (tmp_path / "filters.yaml").write_text("filters:\n  gopher_quality:\n    min_words: 60\n")
    out = tmp_path / "tags.jsonl"
    assert (
        main(["tag", str(source), "--config", str(tmp_path / "filters.yaml"), "--output", str(out)])
        == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [d["id"] for d in docs]
    for row, doc in zip(rows, docs, strict=True):
        attributes = row["attributes"]
        assert set(attributes) >= {
            "language",
            "gopher_quality",
            "gopher_repetition",
            "c4",
            "fineweb",
        }
        if doc["kind"].startswith("foreign:"):
            assert attributes["language"]["lang"] == doc["kind"].split(":")[1]
            assert (row["stage"], row["reason"]) == ("language", "other_language")
        assert row["kept"] == (row["stage"] is None) == (row["failures"] == [])
        if row["stage"]:
            assert [row["stage"], row["reason"]] == row["failures"][0]
    assert "tagged 40 documents" in capsys.readouterr().err


def test_tag_runs_chosen_stages_and_rejects_unknown(tmp_path):
    source = _write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "Too short."}])
    out = tmp_path / "t.jsonl"
    assert main(["tag", str(source), "--stages", "gopher_quality", "--output", str(out)]) == 0
    row = json.loads(out.read_text())
    assert list(row["attributes"]) == ["gopher_quality"]
    assert row["failures"][0] == ["gopher_quality", "too_few_words"]
    assert main(["tag", str(source), "--stages", "gopher", "--output", str(out)]) == 2


def test_classifier_train_then_tag_with_it(tmp_path, capsys):
    clean = _write_jsonl(
        tmp_path / "clean.jsonl", [{"text": t} for t in make_documents("clean", 200, 1)]
    )
    junk = [{"text": t} for k in ("spam", "list", "table") for t in make_documents(k, 70, 2)]
    junk = _write_jsonl(tmp_path / "junk.jsonl", junk)
    model = tmp_path / "quality.bin"
    args = ["classifier", "train", "--positive", str(clean), "--negative", str(junk)]
    assert main([*args, "--output", str(model)]) == 0
    report = capsys.readouterr().out
    accuracy = float(report.split("held-out accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    config = tmp_path / "f.yaml"
    config.write_text(
        f"filters:\n  quality_classifier:\n    model_path: {model}\n"
        "  stages:\n    text: [quality_classifier]\n"
    )
    out = tmp_path / "tags.jsonl"
    test_docs = [{"id": "c", "text": make_documents("clean", 1, 99)[0]}]
    test_docs.append({"id": "j", "text": make_documents("spam", 1, 98)[0]})
    source = _write_jsonl(tmp_path / "test.jsonl", test_docs)
    assert main(["tag", str(source), "--config", str(config), "--output", str(out)]) == 0
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["c"]["kept"] and not rows["j"]["kept"]
    assert rows["c"]["attributes"]["quality_classifier"]["score"] > 0.5


@pytest.mark.parametrize("bad", ["missing.jsonl"])
def test_missing_input_is_a_user_error(tmp_path, bad):
    assert main(["tag", str(tmp_path / bad), "--output", str(tmp_path / "o.jsonl")]) == 2


def test_classifier_trains_from_config_sources(tmp_path, capsys):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    _write_jsonl(
        tmp_path / "good" / "a.jsonl", [{"content": t} for t in make_documents("clean", 60, 3)]
    )
    _write_jsonl(tmp_path / "bad" / "b.jsonl", [{"text": t} for t in make_documents("spam", 60, 4)])
    config = tmp_path / "polymix.yaml"
    config.write_text(
        "sources:\n"
        "  - {name: good, modality: text, paths: ['good/*.jsonl'], format: jsonl, text_field: content}\n"
        "  - {name: bad, modality: text, paths: ['bad/*.jsonl'], format: jsonl}\n"
    )
    args = ["classifier", "train", "--config", str(config), "--positive", "good"]
    assert main([*args, "--negative", "bad", "--output", str(tmp_path / "m.bin")]) == 0
    assert "(60 positive, 60 negative)" in capsys.readouterr().out
    assert main([*args, "--negative", "nope", "--output", str(tmp_path / "m.bin")]) == 2
