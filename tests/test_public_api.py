"""`import polymix` is the public API: cheap to import, and README's examples run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import polymix
from polymix.cli import main
from polymix.core.errors import UserFacingError
from polymix.core.manifest import ManifestError
from polymix.sample import web_text

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks(section: str, language: str) -> list[str]:
    """The fenced `language` blocks of README's `## section`, in order."""
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, flags=re.DOTALL)


def test_importing_polymix_loads_neither_beam_nor_jax():
    code = (
        "import sys, polymix\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'apache_beam', 'jax', 'grain'})\n"
        "print(heavy, len(polymix.__all__))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[0] == "[]", result.stdout


def test_every_public_name_resolves_and_nothing_else_does():
    for name in polymix.__all__:
        assert getattr(polymix, name) is not None, name
    assert set(polymix.__all__) <= set(dir(polymix))
    assert {"run", "verify", "load_manifest", "make_loader", "MinHasher", "Stage"} <= set(
        polymix.__all__
    )
    assert (
        callable(polymix.verify) and polymix.TokenizeText.__module__ == "polymix.pipelines.tokenize"
    )
    with pytest.raises(AttributeError, match="no attribute 'runn'"):
        polymix.runn  # noqa: B018


def test_beam_options_become_the_flags_beam_parses():
    from polymix.api import beam_flags

    flags = beam_flags(
        {"runner": "DirectRunner", "direct_num_workers": 2, "save_main_session": True}
        | {"no_auth": False, "experiments": ["a", "b"], "region": None}
    )
    assert flags == [
        "--runner=DirectRunner",
        "--direct_num_workers=2",
        "--save_main_session",
        "--experiments=a",
        "--experiments=b",
    ]


def test_a_misspelled_beam_option_is_refused_before_any_work(tmp_path):
    with pytest.raises(UserFacingError, match="unknown Beam pipeline option --runer"):
        polymix.run(tmp_path / "missing.yaml", tmp_path / "out", runer="DataflowRunner")


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory) -> Path:
    """A folder holding `my.yaml`, a small text source and its tokenizer, as README assumes."""
    root = tmp_path_factory.mktemp("readme")
    pages = web_text.make_documents("clean", 6, seed=3)
    (root / "web.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in pages))
    config = {
        "sources": [{"name": "web", "modality": "text", "paths": ["web.jsonl"], "format": "jsonl"}],
        "tokenizer": {"model": "spm.model", "vocab_size": 600},
        "near_dedup": {"enabled": False},
        "shards": {"max_seq_len": 256},
        "filters": {"stages": {"text": ["gopher_repetition"], "code": []}},
    }
    (root / "my.yaml").write_text(yaml.safe_dump(config))
    assert main(["tokenizer", "train", str(root / "my.yaml"), "--allow-smaller"]) == 0
    return root


def test_the_readme_python_example_runs(readme_folder, monkeypatch, capsys):
    (example, _) = readme_blocks("Use it from Python", "python")
    monkeypatch.chdir(readme_folder)
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert "web: 6 read, " in printed[-2]
    assert re.fullmatch(r"\(4, 256\) [1-9]\d* text targets", printed[-1]), printed[-1]
    manifest = polymix.verify(readme_folder / "out")
    assert manifest.sources["web"].input == 6
    shard = next((readme_folder / "out").rglob("*.array_record"))
    shard.write_bytes(shard.read_bytes()[:-1])  # a damaged shard is what verify is for
    with pytest.raises(ManifestError, match="problem"):
        polymix.verify(readme_folder / "out")


def test_the_readme_filter_example_is_a_stage_the_config_can_name(tmp_path, monkeypatch):
    (_, stage_code) = readme_blocks("Use it from Python", "python")
    (config_text,) = readme_blocks("Use it from Python", "yaml")
    (tmp_path / "myfilters.py").write_text(stage_code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "myfilters", raising=False)
    from polymix.core.config.filters import FiltersConfig

    filters = FiltersConfig.model_validate(yaml.safe_load(config_text)["filters"])
    stages = polymix.build_stages(filters, "text")
    shouting = next(s for s in stages if s.name == "shouting")
    assert shouting.cuts[0].threshold == 0.4
    verdict = polymix.run_stages([shouting], "WHY IS EVERYONE SHOUTING today")
    assert (verdict.stage, verdict.reason) == ("shouting", "too_loud")
    monkeypatch.delitem(sys.modules, "myfilters", raising=False)
