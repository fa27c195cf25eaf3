"""`polymix report OUT --mixture ablation.json`: the chosen weights re-planned under the run's
caps, written beside the sweep, the run's own report untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymix.ablation.runner import write_atomically
from polymix.ablation.sampling import sample_mixture
from polymix.ablation.settings import AblationSettings
from polymix.ablation.sweep import analyse
from polymix.cli import main
from polymix.core.config.mixture import MixtureConfig
from polymix.core.manifest import load_manifest
from tests.ablation.corpus import write_sources

SOURCES = ["counting", "noise"]
PLANNED = {"counting": 0.3, "noise": 0.7}


def ablation_json(folder: Path) -> Path:
    """A sweep that found `counting` best, with no caps of its own (so it asks for ~all of it)."""
    settings = AblationSettings(proxies=16, candidates=500, objective={"counting": 1.0})
    caps = dict.fromkeys(SOURCES, 1.0)
    proxies = []
    for i in range(settings.proxies):
        mixture = sample_mixture(i, 0, PLANNED, caps, settings.concentration)
        losses = {"counting": 4.0 - 2.5 * mixture["counting"], "noise": 4.0}
        proxies.append({"index": i, "mixture": mixture, "losses": losses})
    result = analyse(proxies, SOURCES, PLANNED, caps, settings, "0" * 64)
    # Beyond the run's cap on counting, some noise kept: what a sweep given no caps can return.
    chosen = {"counting": 0.9, "noise": 0.1}
    result.chosen.weights = chosen
    write_atomically(folder / "ablation.json", result.to_json())
    return folder / "ablation.json"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    # One epoch per source at a budget of everything kept: each source's cap is its own share.
    write_sources(
        tmp_path / "out", PLANNED, records=60, eval_records=8, mixture=MixtureConfig(max_epochs=1)
    )
    return tmp_path / "out"


def test_the_chosen_mixture_is_replanned_under_the_runs_caps(
    run: Path, tmp_path: Path, capsys
) -> None:
    path = ablation_json(tmp_path / "ablation")
    chosen = json.loads(path.read_text())["chosen"]["weights"]
    manifest = load_manifest(run)
    available = {n: p["available"] for n, p in manifest.plan["sources"].items()}
    cap = available["counting"] / manifest.plan["budget"]
    assert chosen["counting"] > cap  # the sweep asked for more than the run can give

    assert main(["report", str(run), "--mixture", str(path)]) == 0
    report = tmp_path / "ablation" / "report"
    plan = json.loads((report / "mixture.json").read_text())
    assert plan["origin"] == "ablation"
    counting = plan["plan"]["sources"]["counting"]
    assert counting["target_weight"] == pytest.approx(chosen["counting"])
    assert counting["planned_weight"] == pytest.approx(cap)
    assert counting["capped"] is True
    noise = plan["plan"]["sources"]["noise"]
    assert noise["planned_weight"] == pytest.approx(1 - cap)  # the rest goes to the others
    assert "ablation.html" in (report / "index.html").read_text()
    page = (report / "ablation.html").read_text()
    assert "Mixture by ablation" in page and "re-planned (caps)" in page
    assert not (run / "report").exists()  # the run's report is not the one written
    out = capsys.readouterr().out
    assert f"ablation page: {report}/ablation.html" in out


def test_a_sweep_of_other_sources_is_refused(run: Path, tmp_path: Path, capsys) -> None:
    path = ablation_json(tmp_path / "ablation")
    data = json.loads(path.read_text())
    data["sources"] = ["counting", "web"]
    path.write_text(json.dumps(data))
    assert main(["report", str(run), "--mixture", str(path)]) == 2
    assert "ablation.json is about sources ['counting', 'web']" in capsys.readouterr().err


def test_a_malformed_ablation_json_is_one_line_naming_the_field(
    run: Path, tmp_path: Path, capsys
) -> None:
    path = ablation_json(tmp_path / "ablation")
    data = json.loads(path.read_text())
    del data["chosen"]["predicted_loss"]
    path.write_text(json.dumps(data))
    assert main(["report", str(run), "--mixture", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("chosen.predicted_loss: Field required") and "\n" not in err
