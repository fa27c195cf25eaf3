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


def test_symbols_are_only_punctuation():
    assert is_symbol("...") and is_symbol("#") and is_symbol("—")
    assert not is_symbol("a") and not is_symbol("2") and not is_symbol("#tag")


def test_docview_caches_and_counts_letters():
    doc = DocView("a 12 b\n\nc")
    assert doc.words is doc.words
    assert doc.n_letter_words == 3
    assert doc.paragraphs == ["a 12 b", "c"]
    assert doc.word_offsets[-1] == 5
