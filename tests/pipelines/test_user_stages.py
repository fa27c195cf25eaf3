"""User filters through the real pipeline and `polymix tag`: one by import path, one by entry point.

The filters live in a module written outside the package at test time (`tests/support/
user_stages.py`); the run is the DirectRunner in this process, on six documents.
"""

from __future__ import annotations

import gzip
import json

import pytest
import yaml

from polymix.cli import main
from polymix.core import stages as registry
from polymix.core.manifest import load_manifest
from polymix.sample import web_text
from tests.pipelines.conftest import run_pipeline
from tests.support.run_layout import data_root
from tests.support.user_stages import MODULE, user_stages_on_path

PLUGINS = {"shouting": {"class": f"{MODULE}:Shouting", "options": {"max_upper_ratio": 0.5}}}
STAGES = ["shouting", "quiet"]  # quiet: no entry in filters.plugins, found by entry point


def _documents() -> list[str]:
    pages = web_text.make_documents("clean", 6, seed=41)
    pages[1] = pages[1].upper()  # shouting/too_loud
    pages[2] = pages[2] + "\nXYZZY"  # quiet/marked
    pages[3] = pages[3] + "\nBOOM"  # quiet raises: quality/error:ValueError
    return pages


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("user_stages")
    with user_stages_on_path(root / "user"):
        lines = [json.dumps({"id": f"d{i}", "text": t}) for i, t in enumerate(_documents())]
        (root / "a.jsonl").write_text("\n".join(lines) + "\n")
        source = {
            "name": "web",
            "modality": "text",
            "paths": ["a.jsonl"],
            "format": "jsonl",
            "id_field": "id",
        }
        config = {
            "sources": [source],
            "tokenizer": {"model": "spm.model", "vocab_size": 600},
            "near_dedup": {"enabled": False},
            "filters": {"plugins": PLUGINS, "stages": {"text": STAGES, "code": []}},
        }
        (root / "c.yaml").write_text(yaml.safe_dump(config))
        assert main(["tokenizer", "train", str(root / "c.yaml")]) == 0
        run_pipeline(root / "c.yaml", root / "out")
        yield root


def _rows(folder) -> list[dict]:
    return [
        json.loads(line)
        for part in sorted(folder.iterdir())
        for line in gzip.decompress(part.read_bytes()).splitlines()
    ]


def test_user_stages_reject_into_their_own_folders_and_the_manifest(user_run):
    output = user_run / "out"
    totals = load_manifest(output / "manifest.json").sources["web"]
    assert totals.rejected == {
        "shouting": {"too_loud": 1},
        "quiet": {"marked": 1},
        "quality": {"error:ValueError": 1},
    }
    assert (totals.input, totals.kept) == (6, 3)
    rejected = data_root(output) / "rejected" / "web"
    assert [r["id"] for r in _rows(rejected / "shouting" / "too_loud")] == ["d1"]
    assert [r["id"] for r in _rows(rejected / "quiet" / "marked")] == ["d2"]
    (failure,) = _rows(rejected / "quality" / "error:ValueError")
    assert failure["id"] == "d3" and "quiet cannot judge this document" in failure["detail"]
    plugin_names = set(STAGES)
    assert {p.name for p in rejected.iterdir()} <= set(registry.PIPELINE_STAGES) | plugin_names
    assert main(["verify", str(output)]) == 0


def test_the_report_shows_the_user_stages_cuts(user_run):
    output = user_run / "out"
    stats = json.loads((data_root(output) / "stats.json").read_text())
    assert stats["attributes"]["shouting.upper_ratio"]["cuts"] == [
        {"key": "shouting: too_loud", "value": 0.5, "keep": "below"}
    ]
    assert stats["attributes"]["quiet.markers"]["cuts"][0]["key"] == "quiet: marked"
    assert [s for s in stats["stages"] if s in STAGES] == STAGES
    html = (output / "report" / "index.html").read_text()
    assert "shouting: too_loud = 0.5 (keep below)" in html


def test_tag_explains_documents_with_the_user_stages(user_run, tmp_path):
    documents = [t for t in _documents() if "BOOM" not in t]
    source = tmp_path / "d.jsonl"
    source.write_text(
        "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(documents))
    )
    out = tmp_path / "tags.jsonl"
    with user_stages_on_path(user_run / "user"):
        args = ["tag", str(source), "--config", str(user_run / "c.yaml"), "--output", str(out)]
        assert main(args) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [(r["stage"], r["reason"]) for r in rows] == [
            (None, None),
            ("shouting", "too_loud"),
            ("quiet", "marked"),
            (None, None),
            (None, None),
        ]
        assert rows[1]["attributes"]["shouting"]["upper_ratio"] == 1.0
        assert rows[0]["attributes"]["quiet"] == {"markers": 0}
        reordered = [*args[:-2], "--stages", "quiet,shouting", "--output", str(out)]
        assert main(reordered) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert {"quiet", "shouting"} <= set(rows[0]["attributes"])
        assert [r["stage"] for r in rows] == [None, "shouting", "quiet", None, None]


def test_tag_names_the_choices_for_an_unknown_stage(user_run, tmp_path, capsys):
    source = tmp_path / "d.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Some text."}) + "\n")
    with user_stages_on_path(user_run / "user"):
        args = ["tag", str(source), "--config", str(user_run / "c.yaml"), "--stages", "shout"]
        assert main([*args, "--output", str(tmp_path / "t.jsonl")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--stages: unknown stage 'shout'; choose from language," in line
    assert line.endswith("pii, shouting, quiet")


def test_a_user_stage_that_cannot_be_imported_stops_the_run_at_launch(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "Some text."}) + "\n")
    source = {"name": "web", "modality": "text", "paths": ["a.jsonl"], "format": "jsonl"}
    plugins = {"shouting": {"class": "not_installed_filters:Shouting"}}
    config = {
        "sources": [source],
        "filters": {"plugins": plugins, "stages": {"text": ["shouting"]}},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "polymix run: error: filters.plugins.shouting.class: cannot import "
        "not_installed_filters:Shouting (ModuleNotFoundError: No module named "
        "'not_installed_filters')"
    )
    assert not (tmp_path / "out").exists()  # refused before the output was touched
