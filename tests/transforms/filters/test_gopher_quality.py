from polymix.transforms.filters.gopher_quality import GopherQuality
from tests.transforms.filters.helpers import DEFAULTS, decide, prose, tag

RULES = GopherQuality(DEFAULTS.gopher_quality)


def test_clean_prose_passes():
    assert decide(RULES, prose()) == []


def test_word_count_bounds():
    assert decide(RULES, "the cat and the dog") == ["too_few_words"]
    # 50 words exactly is enough; punctuation does not count as words.
    text = " ".join(["the", "of", "house"] * 16 + ["garden", "tree"]) + " . , !"
    assert tag(RULES, text).attributes["n_words"] == 50
    assert "too_few_words" not in decide(RULES, text)
    long_text = " ".join(["the house of the garden"] * 20_001)
    assert "too_many_words" in decide(RULES, long_text)


def test_mean_word_length():
    short = " ".join(["to be of an ox"] * 20)
    assert "short_mean_word_length" in decide(RULES, short)
    long = "the and of " + " ".join(["incomprehensibilities"] * 60)
    assert "long_mean_word_length" in decide(RULES, long)


def test_hash_and_ellipsis_ratios():
    text = prose() + " " + " ".join(f"#tag{i}" for i in range(30))
    assert "hash_ratio" in decide(RULES, text)
    text = prose() + " " + " ".join(["wait..."] * 30)
    assert "ellipsis_ratio" in decide(RULES, text)


def test_bullet_and_ellipsis_lines():
    lines = [f"- the item number {i} of the list" for i in range(10)]
    assert "bullet_lines" in decide(RULES, "\n".join(lines))
    assert "bullet_lines" not in decide(RULES, "\n".join(lines[:9] + [prose()]))  # exactly 0.9
    teasers = "\n".join(f"{prose(1)[:-1]}..." for _ in range(4)) + "\n" + prose(3) + "\n" + prose(3)
    assert tag(RULES, teasers).attributes["ellipsis_lines_ratio"] > 0.3
    assert "ellipsis_lines" in decide(RULES, teasers)


def test_alpha_words_and_stop_words():
    table = prose(2) + "\n" + "\n".join(" | ".join(str(i * j) for j in range(6)) for i in range(20))
    assert "alpha_words" in decide(RULES, table)
    no_stop = " ".join(["garden", "window", "river", "stone", "market"] * 12)
    assert decide(RULES, no_stop) == ["stop_words"]
    # Stop words are case-sensitive, as in the paper's reference implementation.
    assert "stop_words" in decide(RULES, no_stop + " The With")
    assert "stop_words" not in decide(RULES, no_stop + " the with")


def test_thresholds_come_from_config():
    strict = GopherQuality(DEFAULTS.gopher_quality.model_copy(update={"min_words": 500}))
    assert decide(strict, prose()) == ["too_few_words"]
