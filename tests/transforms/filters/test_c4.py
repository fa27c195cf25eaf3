from polymix.transforms.filters.c4 import C4
from polymix.transforms.filters.sentences import count_sentences
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, tag

RULES = C4(DEFAULTS.c4)


def test_clean_page_is_kept_unchanged():
    text = prose(6)
    tags = tag(RULES, text)
    assert RULES.decide(tags.attributes) == []
    assert tags.text is None and tags.modified == {}


def test_line_removal_is_a_counted_modification():
    text = "\n".join(
        [
            "Home",  # no terminal punctuation
            "Go now.",  # too few words
            "Please enable JavaScript to see this page.",
            "This site uses cookies to work well.",
            prose(6),
        ]
    )
    tags = tag(RULES, text)
    assert tags.text == prose(6)
    assert tags.modified == {"lines_removed": 4}
    a = tags.attributes
    assert (a["removed_no_terminal_punct"], a["removed_few_words"]) == (1, 1)
    assert (a["removed_javascript"], a["removed_policy"]) == (1, 1)
    assert RULES.decide(a) == []


def test_citations_are_removed_and_counted():
    tags = tag(RULES, prose(5) + " It was built in 1890.[1] And later[citation needed] grew.")
    assert "[1]" not in tags.text and tags.modified["citations_removed"] == 2


def test_page_level_rejections():
    assert decide(RULES, prose(5) + "\nLorem ipsum dolor sit amet, consectetur.") == ["lorem_ipsum"]
    assert decide(RULES, prose(5) + "\nThe value is {x} in this case.") == ["curly_bracket"]
    # a "{" on a line the line rules already dropped does not reject the page
    assert decide(RULES, prose(5) + "\nfunction() {") == []
    assert decide(RULES, prose(3)) == ["too_few_sentences"]


def test_first_flaw_names_the_page():
    text = prose(5) + "\nThe value is {x} here.\nLorem ipsum dolor sit amet."
    assert decide(RULES, text)[0] == "curly_bracket"


def test_sentence_counting_ignores_abbreviations():
    assert count_sentences("The U.S. team won. Then e.g. it rained! Really?") == 3
    assert count_sentences("no end mark") == 1


def test_lines_with_absurdly_long_words_are_removed():
    text = prose(6) + "\nSee " + "x" * 1001 + " for details."
    tags = tag(RULES, text)
    assert tags.attributes["removed_long_word"] == 1 and tags.text == prose(6)
    assert tag(RULES, prose(6) + "\nSee " + "x" * 1000 + " for details.").modified == {}
