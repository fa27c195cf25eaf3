"""The fast word splitter against spaCy itself, on real text nobody here wrote."""

import re
import sys

import pytest

from polymix.transforms.filters import english_rules, sentences, words
from tests.transforms.filters.helpers import real_sample

spacy_words = pytest.importorskip("polymix.transforms.filters.spacy_words")
pytest.importorskip("spacy")


def test_the_shipped_rules_are_the_installed_spacys():
    """When spaCy changes its English rules, regenerate the snapshot (see spacy_words.py)."""
    rules = spacy_words.rules_from_spacy()
    assert rules["SPACY_VERSION"] == english_rules.SPACY_VERSION
    for name in ("PREFIX", "SUFFIX", "INFIX", "URL", "SENTENCE_PUNCT", "SPECIAL_CASES"):
        assert rules[name] == getattr(english_rules, name), name


def test_tokens_equal_spacys_on_real_documents():
    docs = real_sample(per_kind=20, max_chars=20_000)
    assert len({d["kind"] for d in docs}) >= 7
    for doc in docs:
        assert words.split_words(doc["text"]) == spacy_words.split_words(doc["text"]), doc["id"]


@pytest.mark.slow
def test_tokens_equal_spacys_on_the_whole_real_corpus():
    different = [
        doc["id"]
        for doc in real_sample(per_kind=10**9)
        if words.split_words(doc["text"]) != spacy_words.split_words(doc["text"])
    ]
    assert different == []


@pytest.mark.parametrize(
    "text",
    [
        # a short poem: hyphenated words, contractions, a tab-indented attribution line
        "Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\n"
        "All mimsy were the borogoves, and the mome raths outgrabe.\n\t-- Lewis Carroll\n",
        "She's a well-known, bright-eyed ne'er-do-well; y'all can't, won't -- or shan't?",
        # the matcher re-merges ":" "]" into ":]" unless a candidate from the previous chunk wins
        "x [ :]  y ^From[ :].*print-server :]:] [:alpha:]] [[:space:]]",
        "main(): f(x): **kwargs): z.B. (z.B. itd. id. 10a.m. 3p.m.) :-) (:",
        "http://example.com/a?b=1. www.x.org, a@b.co! 10km 5$ US$5 £3 3.14 1,000 1/2 OS/2",
        "  leading\u00a0nbsp\ttab\n\nnew  double  \u2003em  ",
        "",
    ],
)
def test_tokens_equal_spacys_on_hard_cases(text):
    assert words.split_words(text) == spacy_words.split_words(text)


def test_output_does_not_depend_on_the_memo(monkeypatch):
    text = real_sample(per_kind=1, max_chars=20_000)[0]["text"] + " ^From[ :].* [:]"
    expected = words.split_words(text)
    monkeypatch.setattr(words, "MEMO_ENTRIES", 1)
    words._MEMO.clear()
    words._SENSITIVE.clear()
    assert words.split_words(text) == expected
    assert words.split_words(text) == expected


def test_regex_whitespace_is_exactly_str_isspace():
    """`_Chunks` lines regex gaps up with `str.split` chunks; that needs the same whitespace."""
    mismatched = [
        cp
        for cp in range(sys.maxunicode + 1)
        if (re.fullmatch(r"\s", chr(cp)) is not None) != chr(cp).isspace()
    ]
    assert mismatched == []


def test_sentence_counts_equal_spacys_sentencizer_on_real_lines():
    lines = [
        line.strip()
        for doc in real_sample(per_kind=12, max_chars=30_000)
        for line in doc["text"].splitlines()
        if len(line.split()) >= 3
    ]
    assert len(lines) > 3000
    for line in lines[::3]:
        assert sentences.count_sentences(line) == spacy_words.count_sentences(line), line


def test_sentence_rule_on_whitespace_and_marks():
    assert sentences.count_sentences("The U.S. team won. Then e.g. it rained! Really?") == 3
    assert sentences.count_sentences("Done.  .") == 2  # a whitespace token starts a sentence
    assert sentences.count_sentences("Done. .") == 1
    assert sentences.count_sentences("no end mark") == 1
