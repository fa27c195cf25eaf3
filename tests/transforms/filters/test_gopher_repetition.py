import random
from itertools import accumulate

import pytest

from polymix.transforms.filters.gopher_repetition import GopherRepetition, duplicates
from polymix.transforms.filters.repeated_ngrams import ngram_chars
from polymix.transforms.filters.text import split_words
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, real_sample, tag

RULES = GopherRepetition(DEFAULTS.gopher_repetition)


def _chars(words: list[str], longest: int) -> tuple[list[int], list[int]]:
    return ngram_chars(words, list(accumulate(map(len, words), initial=0)), longest)


def _paper_duplicate_chars(words: list[str], n: int) -> int:
    """The paper's walk, word tuples compared: a repeat adds its words' characters, skips past."""
    seen: set[tuple[str, ...]] = set()
    chars = i = 0
    while i <= len(words) - n:
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def test_clean_prose_passes():
    assert decide(RULES, prose()) == []


def test_duplicates_count_items_and_chars():
    assert duplicates(["ab", "c", "ab", "ab"]) == (2, 4)


def test_top_ngram_counts_spaces_between_words_and_prefers_the_first_of_a_tie():
    top, _ = _chars(["a", "b", "a", "b", "a", "b"], 3)
    assert top[2] == 9  # "a b" three times: (1 + 1 + 1 space) * 3
    top, _ = _chars(["xx", "y", "z", "xx", "y", "z"], 2)
    assert top[2] == 4 * 2  # "xx y" and "y z" both appear twice; "xx y" came first
    assert _chars(["a"], 2)[0][2] == 0


def test_duplicate_ngrams_skip_overlaps():
    _, duplicate = _chars(["x", "y", "x", "y", "x", "y"], 2)
    # 2-grams: xy yx xy(repeat: +2, jump to 4) xy(repeat: +2)
    assert duplicate[2] == 4
    assert _chars(["a", "b", "c"], 2)[1][2] == 0


def test_words_not_their_concatenation_name_an_ngram():
    # DataTrove joins an n-gram's words without spaces, so ("a", "bc") would equal ("ab", "c").
    _, duplicate = _chars(["a", "bc", "q", "ab", "c"], 2)
    assert duplicate[2] == 0


@pytest.mark.parametrize("seed", range(3))
def test_all_lengths_equal_the_definitions_on_random_word_lists(seed):
    from datatrove.pipeline.filters.gopher_repetition_filter import find_top_duplicate, get_n_grams

    rng = random.Random(seed)
    for _ in range(400):
        words = [rng.choice("abc") * rng.randint(1, 2) for _ in range(rng.randint(0, 40))]
        top, duplicate = _chars(words, 8)
        for n in range(1, 9):
            grams = get_n_grams(words, n)
            assert top[n] == (find_top_duplicate(grams) if grams else 0), (words, n)
            assert duplicate[n] == _paper_duplicate_chars(words, n), (words, n)


def test_all_lengths_equal_the_definitions_on_real_documents():
    from datatrove.pipeline.filters.gopher_repetition_filter import find_top_duplicate, get_n_grams

    checked = 0
    for doc in real_sample(per_kind=15, max_chars=30_000):
        words = split_words(doc["text"])
        top, duplicate = _chars(words, 10)
        for n in range(1, 11):
            grams = get_n_grams(words, n)
            assert top[n] == (find_top_duplicate(grams) if grams else 0), (doc["id"], n)
            assert duplicate[n] == _paper_duplicate_chars(words, n), (doc["id"], n)
        checked += bool(duplicate[5])
    assert checked > 20  # the sample has documents with repeated 5-grams to check


def test_repeated_lines_and_paragraphs():
    para = prose(2)
    text = "\n\n".join([para, prose(3), para, para])
    reasons = decide(RULES, text)
    assert reasons[0] == "dup_paragraphs"
    assert "dup_lines" in reasons


def test_repeated_ngrams():
    text = prose(4) + " " + " ".join(["buy cheap shoes"] * 25)
    attributes = tag(RULES, text).attributes
    assert attributes["top_2gram_char_fraction"] > 0.2
    assert attributes["dup_5gram_char_fraction"] > 0.15
    assert "top_2gram" in decide(RULES, text) and "dup_10gram" in decide(RULES, text)


def test_ngram_thresholds_are_config_keys():
    loose = DEFAULTS.gopher_repetition.model_copy(
        update={"max_top_ngram_char_fraction": {2: 1.0}, "max_dup_ngram_char_fraction": {}}
    )
    text = prose(4) + " " + " ".join(["buy cheap shoes online today"] * 12)
    assert decide(GopherRepetition(loose), text) == []
    unigram = DEFAULTS.gopher_repetition.model_copy(
        update={"max_top_ngram_char_fraction": {1: 0.05}}
    )
    assert "top_1gram" in decide(GopherRepetition(unigram), "the " * 80 + prose(2))
