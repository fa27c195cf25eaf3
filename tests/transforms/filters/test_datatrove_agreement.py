"""Our Gopher, C4 and FineWeb decisions against DataTrove's reference filters on the same documents."""

import pytest

from polymix.core.config.filters import FiltersConfig
from polymix.sample.web_text import make_corpus
from polymix.transforms.filters import STAGE_CLASSES, run_stages

filters = pytest.importorskip("datatrove.pipeline.filters")
pytest.importorskip("spacy")  # DataTrove's English word tokenizer
from datatrove.data import Document  # noqa: E402

REFERENCE = {
    "gopher_quality": filters.GopherQualityFilter,
    "gopher_repetition": filters.GopherRepetitionFilter,
    "c4": filters.C4QualityFilter,
    "fineweb": filters.FineWebQualityFilter,
}


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, str]]:
    return make_corpus(400, seed=11, foreign_fraction=0.0)


@pytest.mark.parametrize("stage", sorted(REFERENCE))
def test_decisions_agree_with_datatrove(corpus, stage):
    ours = [STAGE_CLASSES[stage](getattr(FiltersConfig(), stage))]
    theirs = REFERENCE[stage]()
    disagreements = []
    for doc in corpus:
        kept = run_stages(ours, doc["text"]).kept
        result = theirs.filter(Document(text=doc["text"], id=doc["id"]))
        if kept != (result is True):
            disagreements.append((doc["id"], doc["kind"], kept, result))
    assert len(disagreements) / len(corpus) <= 0.01, disagreements[:5]
    # The corpus exercises the rule set: it both keeps and rejects a fair share.
    rejected = sum(not run_stages(ours, d["text"]).kept for d in corpus)
    assert 0.05 * len(corpus) < rejected < 0.95 * len(corpus)


def test_c4_keeps_the_same_lines_as_datatrove(corpus):
    ours = [STAGE_CLASSES["c4"](FiltersConfig().c4)]
    theirs = REFERENCE["c4"]()
    for doc in corpus[:150]:
        document = Document(text=doc["text"], id=doc["id"])
        if theirs.filter(document) is True:
            assert run_stages(ours, doc["text"]).text == document.text


@pytest.mark.slow
def test_full_chain_agrees_on_a_large_corpus():
    """The benchmark's claim, asserted: >= 98% of keep/reject decisions agree on 2000 pages."""
    config = FiltersConfig()
    names = ["gopher_repetition", "gopher_quality", "c4", "fineweb"]
    ours = [STAGE_CLASSES[n](getattr(config, n)) for n in names]
    theirs = [REFERENCE[n]() for n in names]
    docs = make_corpus(2000, seed=21, foreign_fraction=0.0)
    agree = 0
    for doc in docs:
        document = Document(text=doc["text"], id=doc["id"])
        kept_by_them = all(block.filter(document) is True for block in theirs)
        agree += run_stages(ours, doc["text"]).kept == kept_by_them
    assert agree / len(docs) >= 0.98
