"""`polymix model-info`: human and JSON output, unknown names as user errors."""

from __future__ import annotations

import json

from polymix.cli import main


def test_model_info_json(capsys) -> None:
    assert main(["model-info", "--model", "gemini-pro-90b", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dimensions"]["vocab_size"] == 256_000
    assert abs(info["params"]["total"] - 90e9) / 90e9 < 0.05
    assert info["params"]["active"] < info["params"]["total"]
    assert info["flops_per_token"]["train"] > 0


def test_model_info_text(capsys) -> None:
    assert main(["model-info", "--model", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "total params" in out and "active params/token" in out and "FLOPs/token" in out


def test_unknown_model_is_a_user_error(capsys) -> None:
    assert main(["model-info", "--model", "nope"]) == 2
    assert "presets" in capsys.readouterr().err
