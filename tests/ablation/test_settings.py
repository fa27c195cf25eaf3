"""One schema for flags and the `ablation:` section; every mistake is one line naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from polymix.ablation.settings import AblationError, build_settings, parse_objective, read_section
from polymix.cli import main


def test_flags_win_over_the_config_section(tmp_path: Path) -> None:
    config = tmp_path / "polymix.yaml"
    config.write_text("ablation:\n  proxies: 12\n  steps: 50\n  objective: {web: 1}\n")
    settings = build_settings(read_section(config), {"steps": 80, "seed": None})
    assert (settings.proxies, settings.steps, settings.seed) == (12, 80, 0)
    assert settings.objective == {"web": 1.0}


@pytest.mark.parametrize(
    ("section", "key"),
    [({"proxies": 2}, "ablation.proxies"), ({"spread": 1}, "ablation.spread")],
)
def test_a_bad_key_is_named(section: dict, key: str) -> None:
    with pytest.raises(AblationError, match=f"^{key}: "):
        build_settings(section, {})


def test_objective_text_is_checked_piece_by_piece() -> None:
    assert parse_objective("web=2, code=1") == {"web": 2.0, "code": 1.0}
    with pytest.raises(AblationError, match="'code' is not name=weight"):
        parse_objective("web=2,code")


def test_the_command_reports_a_bad_setting_in_one_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("ablation:\n  concentration: -1\n")
    code = main(
        ["ablate", "--manifest", str(tmp_path / "m.json"), "--output", str(tmp_path / "o")]
        + ["--config", str(config)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("polymix ablate: error: ablation.concentration: ")
    assert "\n" not in err


def test_a_manifest_without_held_out_shards_is_refused_before_training(
    tmp_path: Path, capsys
) -> None:
    from tests.trainer.train_corpus import write_text_corpus

    manifest = write_text_corpus(tmp_path / "corpus")
    code = main(["ablate", "--manifest", str(manifest), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "['text'] have no held-out shards" in err
    assert not (tmp_path / "o").exists()


def test_side_by_side_is_checked_and_leaves_the_sweep_identity_alone() -> None:
    """A sweep begun one by one may be resumed side by side: K changes no result."""
    assert build_settings({"side_by_side": 8}, {}).identity() == build_settings({}, {}).identity()
    assert build_settings({}, {"side_by_side": 4}).side_by_side == 4
    with pytest.raises(AblationError, match="^ablation.side_by_side: "):
        build_settings({"side_by_side": 0}, {})
