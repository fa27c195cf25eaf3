"""Everything that can be known to fail is refused at launch, before any Beam work."""

import shutil

import pytest
import yaml

from polymix.cli import main
from polymix.core.config import load_config
from polymix.corpus_run import prepare


def _config_copy(sample_corpus, tmp_path, **changes):
    config_path, _ = sample_corpus
    root = tmp_path / "corpus"
    shutil.copytree(config_path.parent, root)
    raw = yaml.safe_load((root / "polymix.yaml").read_text())
    for source in raw["sources"]:
        source.update(changes.get(source["name"], {}))
    (root / "polymix.yaml").write_text(yaml.safe_dump(raw))
    return root / "polymix.yaml"


def test_a_source_whose_globs_match_nothing_is_an_error_naming_it(sample_corpus, tmp_path, capsys):
    config = _config_copy(sample_corpus, tmp_path, code={"paths": ["nowhere/*.jsonl"]})
    assert main(["run", str(config), "--output", str(tmp_path / "out")]) == 2
    assert "sources[code].paths: no file matches" in capsys.readouterr().err


def test_one_empty_glob_among_several_is_a_warning(sample_corpus, tmp_path):
    config = _config_copy(
        sample_corpus, tmp_path, code={"paths": ["code/*.jsonl.zst", "typo/*.jsonl"]}
    )
    prepared = prepare(load_config(config), str(tmp_path / "out"), overwrite=False)
    assert any("typo/*.jsonl" in w for w in prepared.warnings)


def test_missing_tokenizer_points_at_the_command_that_makes_it(sample_corpus, tmp_path, capsys):
    config = _config_copy(sample_corpus, tmp_path)
    (config.parent / "tokenizer" / "spm.model").unlink()
    assert main(["run", str(config), "--output", str(tmp_path / "out")]) == 2
    assert "polymix tokenizer train" in capsys.readouterr().err


def test_output_location_problems_are_clear(sample_corpus, tmp_path, capsys):
    config = _config_copy(sample_corpus, tmp_path)
    assert main(["run", str(config), "--output", str(tmp_path / "no" / "such" / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", str(config)])  # --output is required


def test_previous_output_needs_overwrite(demo_run, sample_corpus, capsys):
    config, _ = sample_corpus
    assert main(["run", str(config), "--output", str(demo_run)]) == 2
    assert "--overwrite" in capsys.readouterr().err
