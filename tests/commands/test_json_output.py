"""`--json`: every command that prints figures prints exactly one JSON document on stdout.

Whatever else a command says (progress, skipped inputs, warnings) goes to stderr then, so
`polymix verify OUT --json | jq .ok` works. File descriptors are captured, not just
`sys.stdout`, so a library writing to fd 1 would be caught too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymix.cli import main


def _one_document(capfd, argv: list[str], code: int = 0) -> dict:
    assert main(argv) == code, capfd.readouterr().err
    out = capfd.readouterr().out
    document = json.loads(out)  # raises on anything before, after or between documents
    assert isinstance(document, dict) and out.strip().startswith("{")
    return document


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("json") / "corpus"
    assert main(["sample", str(root)]) == 0
    return root


def test_sample(tmp_path, capfd):
    info = _one_document(capfd, ["sample", str(tmp_path / "c"), "--json"])
    assert info["examples"] == sum(info["by_source"].values()) > 0


def test_tokenizer_train(corpus, capfd):
    config = str(corpus / "polymix.yaml")
    info = _one_document(capfd, ["tokenizer", "train", config, "--vocab-size", "600", "--json"])
    assert info["vocab_size"] == 600 and info["skipped"]  # the sample has broken inputs


def test_classifier_train(corpus, tmp_path, capfd):
    quality = corpus / "quality"
    argv = ["classifier", "train", "--output", str(tmp_path / "q.bin"), "--json"]
    argv += ["--positive", str(quality / "positive.jsonl.gz")]
    argv += ["--negative", str(quality / "negative.jsonl.gz")]
    info = _one_document(capfd, argv)
    assert 0 <= info["heldout_accuracy"] <= 1 and info["positive"] > 0


def test_tag_summary(corpus, tmp_path, capfd):
    web = sorted((corpus / "web").glob("*.jsonl*"))[0]
    argv = ["tag", str(web), "--output", str(tmp_path / "tags.jsonl"), "--json"]
    info = _one_document(capfd, argv)
    lines = (tmp_path / "tags.jsonl").read_text().splitlines()
    assert info["documents"] == len(lines) == info["kept"] + sum(info["rejected"].values())


def test_tag_refuses_json_and_tags_on_the_same_stdout(corpus, capfd):
    web = sorted((corpus / "web").glob("*.jsonl*"))[0]
    assert main(["tag", str(web), "--output", "-", "--json"]) == 2
    assert len(capfd.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["model-info", "--model", "tiny", "--json"],
        ["plan", "--model", "tiny", "--chips", "8", "--tokens", "1e9", "--json"],
    ],
)
def test_model_arithmetic(capfd, argv):
    _one_document(capfd, argv)


@pytest.mark.slow
def test_run_verify_and_train(corpus, tmp_path, capfd):
    config = str(corpus / "polymix.yaml")
    assert main(["tokenizer", "train", config]) == 0
    quality = corpus / "quality"
    classifier = ["classifier", "train", "--output", str(corpus / "classifier" / "quality.bin")]
    classifier += ["--positive", str(quality / "positive.jsonl.gz")]
    assert main([*classifier, "--negative", str(quality / "negative.jsonl.gz")]) == 0
    capfd.readouterr()
    out = tmp_path / "run"
    run = _one_document(capfd, ["run", config, "--output", str(out), "--json"])
    assert Path(run["manifest"]).is_file() and run["planned"]
    assert all(t["input"] > 0 for t in run["sources"].values())
    verified = _one_document(capfd, ["verify", str(out), "--json"])
    assert verified["ok"] and verified["records"] == sum(
        t["records"] for t in run["sources"].values()
    )
    # The demo preset matches the sample corpus's media layout, as in `make demo`.
    argv = ["train", str(out), "--output", str(tmp_path / "ckpt"), "--model", "demo"]
    argv += ["--steps", "1", "global_batch_size=2", "warmup_steps=1", "model.vocab_size=2048"]
    argv += ["--json"]
    trained = _one_document(capfd, argv)
    assert trained["final_step"] == 1 and trained["last_loss"] > 0


def test_report_prints_its_figures_as_one_document(tmp_path, capfd):
    from tests.polymix.test_report import SOURCES, write_run

    folder = write_run(tmp_path)
    info = _one_document(capfd, ["report", str(folder), "--json"])
    assert Path(info["report"]).is_file() and Path(info["mixture_json"]).is_file()
    for name, totals in SOURCES.items():
        row = info["sources"][name]
        assert (row["input"], row["kept"], row["records"]) == (
            totals.input,
            totals.kept,
            totals.records,
        )
    assert info["mixture"]["plan"]["budget"] == sum(t.tokens for t in SOURCES.values())
    compared = _one_document(capfd, ["report", str(folder), "--compare", str(folder), "--json"])
    assert Path(compared["comparison"]).is_file()


def test_ablate_prints_the_chosen_mixture_as_one_document(tmp_path, capfd, monkeypatch):
    """The sweep is stood in by a real result (synthetic losses): what is tested is the printing."""
    import polymix.ablation.sweep as sweep
    from polymix.ablation.result import load_result
    from tests.ablation.test_report_mixture import ablation_json

    result = load_result(ablation_json(tmp_path))

    def sweep_that_says_something(manifest, output, settings):
        print("proxy 1/16 ...")  # progress, which must not reach stdout under --json
        return result

    monkeypatch.setattr(sweep, "run_ablation", sweep_that_says_something)
    argv = ["ablate", "--manifest", str(tmp_path / "m.json"), "--output", str(tmp_path), "--json"]
    info = _one_document(capfd, argv)
    assert info["chosen"]["weights"] == result.chosen.weights
    assert info["selected_fit"] == result.selected_fit and info["proxies"] == 16
    assert set(info["fits"]) == set(result.fits)
