"""Decontamination n-grams: the same words on both sides, keys that find every shared window."""

from polymix.transforms.decontaminate import contains_ngram, document_keys, eval_ngrams, words

EVAL = "Green plants absorb carbon dioxide from the atmosphere and use the energy of sunlight."


def test_words_ignore_case_punctuation_and_compatibility_forms():
    assert words("The  Eiffel-Tower, in PARIS!") == ["the", "eiffel", "tower", "in", "paris"]
    assert words("ﬁne Ｔｅｘｔ") == ["fine", "text"]  # NFKC


def test_a_document_quoting_an_eval_text_shares_its_ngrams_and_only_then():
    ngrams = eval_ngrams(EVAL, 13)
    assert len(ngrams) == len(words(EVAL)) - 12
    quoting = "As the teacher put it: " + EVAL.upper() + " Then the lesson ended."
    assert set(ngrams) <= set(document_keys(quoting, 13))
    twelve = " ".join(words(EVAL)[:12])
    assert not set(ngrams) & set(document_keys(f"Intro. {twelve}. Outro.", 13))


def test_texts_shorter_than_n_words_have_no_ngrams():
    assert eval_ngrams("too short to count", 13) == {} and document_keys("short", 13) == []


def test_keys_depend_on_word_order():
    assert document_keys("a b c d", 3) != document_keys("d c b a", 3)
    assert len(document_keys("a b a b a b", 2)) == 2  # distinct keys, each once


def test_contains_checks_words_not_keys():
    tokens = words("one two three four five")
    assert contains_ngram(tokens, "two three four")
    assert not contains_ngram(tokens, "two four three") and not contains_ngram(tokens, "five six")
