from polymix.transforms.filters.fineweb import FineWeb
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, tag

RULES = FineWeb(DEFAULTS.fineweb)


def test_clean_prose_passes():
    assert decide(RULES, prose(3) + "\n" + prose(4)) == []


def test_terminal_punctuation_ratio():
    lines = [f"Menu entry number {i} of the site" for i in range(9)] + [prose(2)]
    text = "\n".join(lines)
    assert tag(RULES, text).attributes["terminal_punct_line_ratio"] == 0.1
    assert "terminal_punct_lines" in decide(RULES, text)
    # unicode sentence terminals count too
    assert tag(RULES, "这是一个句子。\n" + prose(2)).attributes["terminal_punct_line_ratio"] == 1.0


def test_short_lines_and_newline_ratio():
    text = "\n".join(["Short line."] * 3 + [prose(1)])
    assert "short_lines" in decide(RULES, text)
    listy = "\n".join(f"Item {i}." for i in range(30))
    assert "newline_word_ratio" in decide(RULES, listy)


def test_duplicated_line_characters():
    line = "This exact sentence appears twice on the page, which is suspicious."
    reasons = decide(RULES, "\n".join([line, prose(6), line]))
    assert reasons == ["dup_line_chars"]


def test_empty():
    assert decide(RULES, "\n \n") == ["empty"]
