"""The sample corpus's text sources alone, with a trained tokenizer: what the text benchmarks run on."""

from __future__ import annotations

from pathlib import Path

import yaml


def text_only_corpus(root: Path, scale: int, seed: int = 0) -> Path:
    """Generate the sample corpus under `root`, keep its text sources and heuristic filters.

    The quality classifier is left out (it needs a training step of its own) and so are
    media sources (measured by benchmarks/media.py). Returns the config path.
    """
    from polymix.cli import main as polymix
    from polymix.sample.generate import generate

    generate(root, seed=seed, scale=scale)
    config_path = root / "polymix.yaml"
    raw = yaml.safe_load(config_path.read_text())
    raw["sources"] = [s for s in raw["sources"] if s["modality"] in ("text", "code")]
    raw.pop("filters", None)
    raw.pop("media", None)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert polymix(["tokenizer", "train", str(config_path)]) == 0
    return config_path
