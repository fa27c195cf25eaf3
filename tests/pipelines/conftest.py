"""One demo-corpus run shared by the pipeline tests (a DirectRunner run costs seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.sample.generate import generate
from tests.support.gcs_emulator import gcs  # noqa: F401  (the GCS emulator fixture)


def run_pipeline(config: Path, output: Path, *extra: str) -> None:
    assert main(["run", str(config), "--output", str(output), "--overwrite", *extra]) == 0


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sample") / "corpus"
    generate(root, seed=7, scale=1)
    assert main(["tokenizer", "train", str(root / "polymix.yaml"), "--vocab-size", "800"]) == 0
    quality = root / "quality"
    classifier = ["classifier", "train", "--output", str(root / "classifier" / "quality.bin")]
    classifier += ["--positive", str(quality / "positive.jsonl.gz")]
    classifier += ["--negative", str(quality / "negative.jsonl.gz")]
    assert main(classifier) == 0
    return root / "polymix.yaml", json.loads((root / "expected.json").read_text())


@pytest.fixture(scope="session")
def demo_run(sample_corpus, tmp_path_factory) -> Path:
    config, _ = sample_corpus
    output = tmp_path_factory.mktemp("run") / "out"
    run_pipeline(config, output)
    return output
