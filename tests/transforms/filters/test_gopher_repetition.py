from polymix.transforms.filters.gopher_repetition import (
    GopherRepetition,
    duplicate_ngram_chars,
    duplicates,
    top_ngram_chars,
)
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, tag

RULES = GopherRepetition(DEFAULTS.gopher_repetition)


def test_clean_prose_passes():
    assert decide(RULES, prose()) == []


def test_duplicates_count_items_and_chars():
    assert duplicates(["ab", "c", "ab", "ab"]) == (2, 4)


def test_top_ngram_counts_spaces_between_words():
    # "a b" occurs 3 times: (1 + 1 + 1 space) * 3 characters
    assert top_ngram_chars(["a", "b", "a", "b", "a", "b"], 2) == 9
    assert top_ngram_chars(["a"], 2) == 0


def test_duplicate_ngrams_skip_overlaps():
    words = ["x", "y", "x", "y", "x", "y"]
    offsets = [0, 1, 2, 3, 4, 5, 6]
    # 2-grams: xy yx xy(dup, skip 2) xy? no: positions 0 xy,1 yx,2 xy dup -> +2, jump to 4 xy dup -> +2
    assert duplicate_ngram_chars(words, offsets, 2) == 4
    assert duplicate_ngram_chars(["a", "b", "c"], [0, 1, 2, 3], 2) == 0


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
