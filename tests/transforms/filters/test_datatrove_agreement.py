"""Our Gopher, C4 and FineWeb decisions against DataTrove's reference filters on the same documents.

The main evidence is real text nobody here wrote (`benchmarks/real_corpus.py`: Debian's manuals in
7 languages, GNOME help in ~40, Python's docs, HTML, fortunes, dictionary entries, licences),
compared document by document; the sample generator's pages are checked too.
"""

import pytest

from polymix.core.config.filters import FiltersConfig
from polymix.sample.web_text import make_corpus
from polymix.transforms.filters import STAGE_CLASSES, run_stages
from tests.transforms.filters.helpers import real_sample

filters = pytest.importorskip("datatrove.pipeline.filters")
pytest.importorskip("spacy")  # DataTrove's English word tokenizer
from datatrove.data import Document  # noqa: E402

REFERENCE = {
    "gopher_repetition": filters.GopherRepetitionFilter,
    "gopher_quality": filters.GopherQualityFilter,
    "fineweb": filters.FineWebQualityFilter,
    "c4": filters.C4QualityFilter,  # last: it rewrites the Document's text
}
STAGES = sorted(REFERENCE)


def _theirs_keep(result: object) -> bool:
    return result is True or (isinstance(result, tuple) and bool(result[0]))


def decisions(docs: list[dict]) -> dict[str, list[tuple[str, bool, bool]]]:
    """stage -> (id, we keep, DataTrove keeps) per document, each rule set on the original text."""
    config = FiltersConfig()
    ours = {name: STAGE_CLASSES[name](getattr(config, name)) for name in REFERENCE}
    theirs = {name: cls() for name, cls in REFERENCE.items()}
    out: dict[str, list[tuple[str, bool, bool]]] = {name: [] for name in REFERENCE}
    for doc in docs:
        for name in REFERENCE:  # consecutive calls on one text share DataTrove's spaCy pass
            kept = run_stages([ours[name]], doc["text"]).kept
            result = theirs[name].filter(Document(text=doc["text"], id=doc["id"]))
            out[name].append((doc["id"], kept, _theirs_keep(result)))
    return out


def _check(rows: list[tuple[str, bool, bool]], at_least: float) -> None:
    differ = [(doc_id, kept, theirs) for doc_id, kept, theirs in rows if kept != theirs]
    agreement = 1 - len(differ) / len(rows)
    assert agreement >= at_least, (f"{agreement:.4f}", differ[:10])
    rejected = sum(not kept for _, kept, _ in rows)
    assert 0.05 * len(rows) < rejected < 0.95 * len(rows)  # the sample exercises the rules


@pytest.fixture(scope="module")
def real_decisions() -> dict[str, list[tuple[str, bool, bool]]]:
    # ~2,000 documents in proportion to the corpus's kinds; the longest ones run in the slow test.
    return decisions(real_sample(total=2000, max_chars=12_000))


@pytest.mark.parametrize("stage", STAGES)
def test_decisions_agree_with_datatrove_on_real_text(real_decisions, stage):
    assert len(real_decisions[stage]) >= 1900
    _check(real_decisions[stage], at_least=0.995)


@pytest.mark.slow
def test_decisions_agree_with_datatrove_on_the_whole_real_corpus():
    every = decisions(real_sample(per_kind=10**9))
    for stage in STAGES:
        _check(every[stage], at_least=0.995)


def test_c4_keeps_the_same_lines_as_datatrove_on_real_text():
    ours = [STAGE_CLASSES["c4"](FiltersConfig().c4)]
    theirs = REFERENCE["c4"]()
    compared = 0
    for doc in real_sample(per_kind=30, max_chars=12_000):
        document = Document(text=doc["text"], id=doc["id"])
        if theirs.filter(document) is True:
            assert run_stages(ours, doc["text"]).text == document.text, doc["id"]
            compared += 1
    assert compared > 30


@pytest.fixture(scope="module")
def generated() -> list[dict[str, str]]:
    return make_corpus(400, seed=11, foreign_fraction=0.0)


@pytest.fixture(scope="module")
def generated_decisions(generated) -> dict[str, list[tuple[str, bool, bool]]]:
    return decisions(generated)


@pytest.mark.parametrize("stage", STAGES)
def test_decisions_agree_with_datatrove_on_generated_pages(generated_decisions, stage):
    _check(generated_decisions[stage], at_least=0.99)


def test_c4_keeps_the_same_lines_as_datatrove(generated):
    ours = [STAGE_CLASSES["c4"](FiltersConfig().c4)]
    theirs = REFERENCE["c4"]()
    for doc in generated[:150]:
        document = Document(text=doc["text"], id=doc["id"])
        if theirs.filter(document) is True:
            assert run_stages(ours, doc["text"]).text == document.text


@pytest.mark.slow
def test_full_chain_agrees_on_a_large_generated_corpus():
    """>= 98% of keep/reject decisions of the whole chain agree on 2000 generated pages."""
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
