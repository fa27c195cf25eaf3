from polymix.transforms.filters.text import DocView, is_symbol, split_words


def test_words_split_like_spacy_english():
    assert split_words("Don't do it, it's U.S. policy (e.g. 3.14 and 1,000).") == [
        "Do", "n't", "do", "it", ",", "it", "'s", "U.S.", "policy", "(", "e.g.", "3.14", "and",
        "1,000", ")", ".",
    ]  # fmt: skip


def test_urls_emails_and_symbol_runs_are_single_tokens():
    words = split_words("see http://x.com/a?b=1. or a@b.com ... well-known -- ok")
    assert "http://x.com/a?b=1" in words and "a@b.com" in words
    assert words[words.index("http://x.com/a?b=1") + 1] == "."
    assert "..." in words and "--" in words
    assert words[-5:-1] == ["well", "-", "known", "--"]


def test_abbreviations_and_exceptions_follow_spacys_table():
    # Where the regex that imitated spaCy drifted on real text: spaCy keeps "J." and "n." whole,
    # splits "cannot" and "gonna", keeps dotted names and a dash glued to a name.
    assert split_words("J. Smith, n. a word; --Millôr it.hobby.umorismo") == [
        "J.", "Smith", ",", "n.", "a", "word", ";", "--Millôr", "it.hobby.umorismo",
    ]  # fmt: skip
    assert split_words("I cannot, gonna") == ["I", "can", "not", ",", "gon", "na"]


def test_symbols_are_only_punctuation():
    assert is_symbol("...") and is_symbol("#") and is_symbol("—") and is_symbol("):")
    assert not is_symbol("a") and not is_symbol("2") and not is_symbol("#tag")


def test_docview_caches_per_splitter_and_counts_alphabetic_words():
    doc = DocView("a 12 b²\n\nc ½ ...")
    words = doc.words()
    assert doc.words("fast") is words
    # "½" and "²" are numeric, not alphabetic (str.isalpha, as DataTrove): "b²" still has a letter
    assert words.n_alphabetic == 3
    assert words.symbols == ["..."]
    assert doc.paragraphs == ["a 12 b²", "c ½ ..."]
    assert words.offsets[-1] == sum(map(len, words.tokens))
