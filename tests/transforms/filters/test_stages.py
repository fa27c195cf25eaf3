import pickle

import pytest
from pydantic import ValidationError

from polymix.core.config.filters import FiltersConfig, StagesConfig
from polymix.transforms.filters import build_stages, run_stages
from tests.transforms.filters.helpers import prose


def _rules_only(**stage_lists) -> FiltersConfig:
    return FiltersConfig(stages=StagesConfig(**stage_lists))


def test_stages_follow_the_config_per_modality():
    config = FiltersConfig()
    assert [s.name for s in build_stages(config, "text")] == config.stages.text
    assert [s.name for s in build_stages(config, "code")] == ["code", "pii"]
    assert build_stages(config, "image") == []


def test_first_failure_decides_and_attributes_are_namespaced():
    stages = build_stages(_rules_only(text=["gopher_quality", "c4"]), "text")
    verdict = run_stages(stages, "too short")
    assert (verdict.stage, verdict.reason) == ("gopher_quality", "too_few_words")
    assert "c4" not in verdict.attributes  # stopped at the first rejection
    full = run_stages(stages, "too short", explain_all=True)
    assert ("c4", "too_few_sentences") in full.failures
    assert full.attributes["gopher_quality"]["n_words"] == 2


def test_modifications_feed_later_stages_and_are_recorded():
    stages = build_stages(_rules_only(text=["c4", "pii"]), "text")
    text = "Menu\n" + prose(6) + " Mail me at a@b.org now."
    verdict = run_stages(stages, text)
    assert verdict.kept
    assert verdict.text.startswith("The council") and "|||EMAIL_ADDRESS|||" in verdict.text
    assert verdict.attributes["modified"] == {"c4": {"lines_removed": 1}, "pii": {"email": 1}}


def test_empty_text_is_rejected_by_the_first_stage():
    stages = build_stages(_rules_only(text=["gopher_quality"]), "text")
    verdict = run_stages(stages, "  \n")
    assert (verdict.stage, verdict.reason) == ("gopher_quality", "empty")


def test_stages_pickle_without_models():
    stages = build_stages(FiltersConfig(), "text")
    stages[0].load()
    assert pickle.loads(pickle.dumps(stages))[0]._model is None


def test_config_rejects_unknown_keys_and_classifier_without_model():
    with pytest.raises(ValidationError):
        FiltersConfig.model_validate({"gopher_quality": {"min_word": 3}})
    with pytest.raises(ValidationError, match="model_path"):
        FiltersConfig.model_validate({"stages": {"text": ["quality_classifier"]}})
    with pytest.raises(ValidationError, match="more than once"):
        FiltersConfig.model_validate({"stages": {"text": ["c4", "c4"]}})


def test_every_field_is_described():
    def walk(model):
        for name, info in type(model).model_fields.items():
            assert info.description, f"{type(model).__name__}.{name}"
            value = getattr(model, name)
            if hasattr(value, "model_fields"):
                walk(value)

    walk(FiltersConfig())


def test_numeric_cuts_explain_decisions_and_recut():
    from polymix.transforms.filters.cuts import kept_at, numeric_cuts

    cuts = numeric_cuts(FiltersConfig(), "text")
    assert list(cuts) == FiltersConfig().stages.text
    words = {c.reason: c for c in cuts["gopher_quality"]}["too_few_words"]
    assert (words.attribute, words.op, words.threshold) == ("n_words", "<", 50)
    assert kept_at([10, 40, 60, 80], words, 50) == 2 and kept_at([10, 40, 60, 80], words, 30) == 3
    # decide() is exactly the cuts applied to the attributes
    stage = build_stages(_rules_only(text=["gopher_quality"]), "text")
    verdict = run_stages(stage, "too short", explain_all=True)
    failing = [c.reason for c in cuts["gopher_quality"]
               if c.fails(verdict.attributes["gopher_quality"][c.attribute])]  # fmt: skip
    assert failing == [reason for _, reason in verdict.failures]


def test_transforms_do_not_import_beam_or_jax():
    import subprocess
    import sys

    code = (
        "import sys, polymix.transforms.filters, polymix.transforms.filters.cuts, "
        "polymix.sample.web_text; "
        "print(any(m.split('.')[0] in ('apache_beam', 'jax') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
