import math

import pytest

from polymix.sample.web_text import make_documents
from polymix.transforms.filters import quality_classifier
from polymix.transforms.filters.quality_classifier import QualityClassifier
from tests.transforms.filters.helpers import DEFAULTS, tag


def _junk(n: int, seed: int) -> list[str]:
    kinds = ["spam", "boilerplate", "list", "table"]
    return [t for i, k in enumerate(kinds) for t in make_documents(k, n // 4, seed + i)]


def test_trained_classifier_separates_clean_from_junk(tmp_path):
    model = str(tmp_path / "quality.bin")
    result = quality_classifier.train(
        make_documents("clean", 400, seed=1), _junk(400, seed=2), model, seed=0
    )
    assert result.heldout_docs == 80 and result.heldout_accuracy >= 0.95
    config = DEFAULTS.quality_classifier.model_copy(update={"model_path": model})
    stage = QualityClassifier(config)
    stage.load()
    clean = [tag(stage, t).attributes["score"] for t in make_documents("clean", 50, seed=9)]
    junk = [tag(stage, t).attributes["score"] for t in _junk(48, seed=10)]
    accuracy = (sum(s >= 0.5 for s in clean) + sum(s < 0.5 for s in junk)) / (
        len(clean) + len(junk)
    )
    assert accuracy >= 0.95
    assert stage.decide({"score": 0.2}) == ["low_score"] and stage.decide({"score": 0.9}) == []


def test_training_is_reproducible(tmp_path):
    pos, neg = make_documents("clean", 40, seed=1), _junk(40, seed=2)
    a = quality_classifier.train(pos, neg, str(tmp_path / "a.bin"), seed=3)
    b = quality_classifier.train(pos, neg, str(tmp_path / "b.bin"), seed=3)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert a.heldout_accuracy == b.heldout_accuracy or math.isnan(a.heldout_accuracy)


def test_training_needs_both_sides(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        quality_classifier.train(["good text"], [""], str(tmp_path / "m.bin"))


def test_stage_without_model_explains():
    with pytest.raises(FileNotFoundError, match="classifier train"):
        QualityClassifier(DEFAULTS.quality_classifier).load()
