"""A sweep continues from the proxies already done and refuses a folder of another sweep.

The finished proxies here are written in the runner's own result format, as a killed
sweep leaves them; with every proxy done, nothing is trained, so this runs without the
trainer's evaluation. Training the missing ones is `test_end_to_end.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymix.ablation.runner import canonical, final_eval_losses, proxy_folder, write_atomically
from polymix.ablation.sampling import sample_mixture
from polymix.ablation.settings import AblationError, AblationSettings
from polymix.ablation.sweep import run_ablation
from tests.ablation.corpus import write_sources

PLANNED = {"counting": 0.25, "noise": 0.75}


def finished(output: Path, settings: AblationSettings, skip: int | None = None) -> None:
    for index in range(settings.proxies):
        if index == skip:
            continue
        mixture = sample_mixture(
            index, settings.seed, PLANNED, {"counting": 1.0, "noise": 1.0}, settings.concentration
        )
        losses = {
            "counting": 4.0 - 2.0 * mixture["counting"],
            "noise": 4.2 - 0.1 * mixture["noise"],
        }
        done = {"index": index, "mixture": mixture, "losses": losses}
        write_atomically(proxy_folder(output, index) / "result.json", canonical(done))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sources(tmp_path_factory.mktemp("corpus"), PLANNED, records=40, eval_records=8)


def test_a_sweep_with_every_proxy_done_trains_nothing(manifest: Path, tmp_path: Path) -> None:
    settings = AblationSettings(proxies=10, steps=5, candidates=500, objective={"counting": 1})
    finished(tmp_path, settings)
    (proxy_folder(tmp_path, 4) / "run").mkdir()  # what a kill after the result leaves
    said: list[str] = []
    result = run_ablation(manifest, tmp_path, settings, say=said.append)
    assert said == []  # no proxy announced: none trained
    assert not (proxy_folder(tmp_path, 4) / "run").exists()
    assert [p.index for p in result.proxies] == list(range(10))
    written = json.loads((tmp_path / "ablation.json").read_text())
    assert written["chosen"]["weights"]["counting"] > PLANNED["counting"]
    assert written["planned"]["weights"] == PLANNED
    for name in ("predicted_vs_measured.png", "landscape.png", "weights.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_a_folder_of_another_sweep_is_refused(manifest: Path, tmp_path: Path) -> None:
    settings = AblationSettings(proxies=6, steps=5, candidates=500)
    finished(tmp_path, settings)
    run_ablation(manifest, tmp_path, settings, say=lambda _: None)
    with pytest.raises(AblationError, match="holds a sweep with steps=5, not 6"):
        run_ablation(manifest, tmp_path, settings.model_copy(update={"steps": 6}))


def test_a_result_of_another_mixture_is_refused(manifest: Path, tmp_path: Path) -> None:
    settings = AblationSettings(proxies=6, steps=5, candidates=500)
    finished(tmp_path, settings.model_copy(update={"concentration": 1.0}))
    with pytest.raises(AblationError, match="00000/result.json was trained on another mixture"):
        run_ablation(manifest, tmp_path, settings)


def test_the_final_evaluation_is_the_last_one_logged() -> None:
    records = [
        {"step": 1, "loss": 4.0},
        {"step": 2, "eval/a/loss": 3.0, "eval/b/loss": 3.5, "eval/text/loss": 3.2},
        {"step": 3, "loss": 2.0},
        {"step": 4, "eval/a/loss": 2.5, "eval/b/loss": 3.1, "eval/text/loss": 2.8},
    ]
    assert final_eval_losses(records, ["a", "b"]) == {"a": 2.5, "b": 3.1}
    with pytest.raises(AblationError, match=r"no loss for \['c'\]"):
        final_eval_losses(records, ["a", "c"])
    with pytest.raises(AblationError, match="holds no evaluation"):
        final_eval_losses(records[:1], ["a"])
