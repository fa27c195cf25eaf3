import pytest

from polymix.sample.web_text import NON_ENGLISH, make_corpus
from polymix.transforms.filters import fasttext_models
from polymix.transforms.filters.language import Language
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, real_corpus, real_sample, tag


@pytest.fixture(scope="module")
def language() -> Language:
    stage = Language(DEFAULTS.language)
    stage.load()
    return stage


def test_the_bundled_model_is_the_pinned_lid176():
    path = fasttext_models.lid_model_path()
    assert path.endswith("lid.176.ftz")
    assert fasttext_models.sha256_file(path) == fasttext_models.LID_SHA256


@pytest.mark.parametrize("code", sorted(NON_ENGLISH))
def test_non_english_documents_are_identified_and_rejected(language, code):
    text = " ".join(NON_ENGLISH[code])
    attributes = tag(language, text).attributes
    assert attributes["lang"] == code and attributes["score"] > 0.9
    assert language.decide(attributes) == ["other_language"]


def test_english_is_kept(language):
    attributes = tag(language, prose())
    assert attributes.attributes["lang"] == "en"
    assert decide(language, prose()) == []


def test_keep_list_and_min_score_are_config(language):
    french = " ".join(NON_ENGLISH["fr"])
    keep_fr = Language(DEFAULTS.language.model_copy(update={"keep": ["fr", "en"]}))
    keep_fr._model = language._model
    assert decide(keep_fr, french) == []
    picky = Language(DEFAULTS.language.model_copy(update={"keep": [], "min_score": 0.999999}))
    picky._model = language._model
    assert decide(picky, "ok ok") == ["low_score"]


def test_demo_corpus_languages_are_detected(language):
    docs = [d for d in make_corpus(300, seed=5, foreign_fraction=0.3) if ":" in d["kind"]]
    assert len(docs) > 50
    detected = [tag(language, d["text"]).attributes["lang"] for d in docs]
    expected = [d["kind"].split(":")[1] for d in docs]
    assert detected == expected


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(fasttext_models.ModelNotFound, match="installed with polymix"):
        fasttext_models.lid_model_path(str(tmp_path / "nope.ftz"))


def test_language_id_and_training_share_one_fasttext():
    # fasttext-predict (an inference-only `fasttext`) would shadow the trainable module.
    assert fasttext_models.can_train()


def test_the_model_ships_in_the_package_unchanged(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYMIX_LID_MODEL", raising=False)
    path = fasttext_models.lid_model_path()
    assert path == str(fasttext_models.PACKAGED_LID)
    assert fasttext_models.sha256_file(path) == fasttext_models.LID_SHA256
    monkeypatch.setenv("POLYMIX_LID_MODEL", str(tmp_path / "elsewhere.ftz"))
    with pytest.raises(fasttext_models.ModelNotFound, match="elsewhere.ftz"):
        fasttext_models.lid_model_path()


def test_sample_lines_spreads_whole_lines_over_the_document():
    from polymix.transforms.filters.language import sample_lines

    text = "\n".join(f"line {i:03d} " + "x" * 40 for i in range(100))
    sample = sample_lines(text, 500)
    assert len(sample) <= 500
    picked = [line[:8] for line in sample.split("\n")]
    # 10 of the 100 lines fit: the middle one of each tenth, from the start to the end
    assert picked == [f"line {i:03d}" for i in range(5, 100, 10)]
    assert sample_lines("short\n\n\ntext", 500) == "short\ntext"


def test_an_english_header_does_not_decide_a_french_page(language):
    french = " ".join(NON_ENGLISH["fr"])
    page = "Copyright notice. All rights reserved by the authors of this page.\n" + "\n".join(
        [french] * 30
    )
    prefix = Language(DEFAULTS.language.model_copy(update={"max_chars": 60, "sample": "prefix"}))
    lines = Language(DEFAULTS.language.model_copy(update={"max_chars": 600, "sample": "lines"}))
    prefix._model = lines._model = language._model
    assert tag(prefix, page).attributes["lang"] == "en"
    assert tag(lines, page).attributes["lang"] == "fr"


def _agreement_with_whole_text(language, docs):
    whole = Language(DEFAULTS.language.model_copy(update={"max_chars": 0}))
    whole._model = language._model
    same = sum(decide(language, d["text"]) == decide(whole, d["text"]) for d in docs)
    return same / len(docs)


def test_sampled_lines_decide_like_the_whole_text_on_real_multilingual_text(language):
    docs = real_sample(total=1500, max_chars=60_000)
    assert len({d["lang"] for d in docs}) > 30
    assert _agreement_with_whole_text(language, docs) >= 0.99


@pytest.mark.slow
def test_sampled_lines_decide_like_the_whole_text_on_the_whole_real_corpus(language):
    assert _agreement_with_whole_text(language, list(real_corpus())) >= 0.995
