"""One `key=value` parser: the same text means the same value for the pipeline, the
trainer and the model presets, and a bad key or value names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from polymix.cli import main
from polymix.core.config import ConfigError, load_config
from polymix.core.overrides import OverrideError, apply_to_mapping, parse_value
from polymix.trainer.config import ConfigError as TrainConfigError
from polymix.trainer.config import TrainConfig, apply_overrides

CONFIG = """\
sources:
  - {name: web, modality: text, format: jsonl, paths: [web/*.jsonl]}
  - {name: books, modality: text, format: jsonl, paths: [books/*.jsonl]}
near_dedup:
  threshold: 0.8
"""


@pytest.mark.parametrize(
    ("text", "current", "value"),
    [
        ("1e6", 0, 1_000_000),
        ("1_000", 0, 1000),
        ("7", 0, 7),
        ("off", True, False),
        ("Yes", False, True),
        ("2e-4", 0.0, 2e-4),
        ("demo", "tiny", "demo"),
    ],
)
def test_values_take_the_type_of_the_field_they_replace(text, current, value):
    parsed = parse_value(text, current)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("text", "current"), [("2.5", 0), ("1e400", 0), ("maybe", True)])
def test_a_value_the_field_cannot_hold_is_refused(text, current):
    with pytest.raises(ValueError):
        parse_value(text, current)


def test_trainer_keys_and_model_fields_read_numbers_alike():
    cfg = apply_overrides(TrainConfig(), ["steps=1e3", "model.n_layers=2e0", "model=tiny"])
    assert cfg.steps == 1000 and cfg.resolved_model().n_layers == 2
    with pytest.raises(TrainConfigError, match=r"model: .*2\.5"):
        apply_overrides(TrainConfig(), ["model.n_layers=2.5"])
    with pytest.raises(OverrideError, match="'steps' is not key=value"):
        apply_overrides(TrainConfig(), ["steps"])


def test_dotted_keys_reach_sections_and_named_sources():
    raw = {"sources": [{"name": "web"}, {"name": "books"}], "near_dedup": {"threshold": 0.8}}
    out = apply_to_mapping(raw, ["near_dedup.threshold=0.7", "sources.books.weight=2", "seed=3"])
    assert out["near_dedup"]["threshold"] == 0.7 and out["seed"] == 3
    assert out["sources"][1] == {"name": "books", "weight": 2}
    assert raw["near_dedup"]["threshold"] == 0.8  # the config as written is left alone
    with pytest.raises(
        OverrideError, match=r"no entry named 'code' \(entries: \['web', 'books'\]\)"
    ):
        apply_to_mapping(raw, ["sources.code.weight=2"])


def test_pipeline_overrides_are_validated_and_hashed_like_the_file(tmp_path: Path):
    path = tmp_path / "polymix.yaml"
    path.write_text(CONFIG)
    written = load_config(path)
    changed = load_config(path, overrides=["near_dedup.threshold=0.7"])
    assert changed.near_dedup.threshold == 0.7
    assert changed.fingerprint() != written.fingerprint()
    assert load_config(path, overrides=["near_dedup.threshold=0.8"]).fingerprint() == (
        written.fingerprint()
    )
    with pytest.raises(ConfigError, match="near_dedup.treshold"):
        load_config(path, overrides=["near_dedup.treshold=0.7"])


def test_run_takes_overrides_and_names_a_bad_one(tmp_path: Path, capsys):
    path = tmp_path / "polymix.yaml"
    path.write_text(CONFIG)
    argv = ["run", str(path), "--output", str(tmp_path / "out"), "--set"]
    assert main([*argv, "near_dedup.threshold=lots"]) == 2
    assert "near_dedup.threshold" in capsys.readouterr().err
    assert main([*argv, "near_dedup"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "out").exists()
