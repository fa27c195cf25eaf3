import unicodedata

from polymix.core.config.text import NormalizeConfig
from polymix.transforms.normalize import normalize_source_text, normalize_text


def test_composed_and_decomposed_forms_normalize_to_the_same_text():
    composed = "café déjà vu"
    assert normalize_text(unicodedata.normalize("NFD", composed)) == composed


def test_line_ends_spaces_and_blank_runs_are_canonical():
    text = "  Title \r\n\r\n\r\n\r\nFirst\t\tline  \rSecond\u2028third  "
    assert normalize_text(text) == "Title\n\nFirst line\nSecond\nthird"


def test_control_characters_go_but_newlines_and_tabs_stay_until_whitespace_folding():
    assert normalize_text("a\x00b\x1b[31mc\x7fd", collapse_whitespace=False) == "ab[31mcd"
    assert normalize_text("a\tb\nc", collapse_whitespace=False) == "a\tb\nc"


def test_whitespace_only_text_normalizes_to_empty():
    assert normalize_text(" \n\t \u3000 ") == ""


def test_settings_can_switch_steps_off():
    assert normalize_text("a  b", collapse_whitespace=False) == "a  b"
    assert normalize_text("e\u0301", unicode_form="none") == "e\u0301"
    assert normalize_text("a\n\n\n\nb", max_blank_lines=2) == "a\n\n\nb"


def test_control_characters_are_exactly_unicode_cc_except_newline_and_tab():
    """The regex that replaced a per-character loop removes exactly what that loop removed."""
    import sys

    from polymix.transforms.normalize import strip_control

    every = "".join(map(chr, range(sys.maxunicode + 1)))  # lone surrogates included
    kept = "".join(ch for ch in every if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    assert strip_control(every) == kept
    assert strip_control("line one\nline two\ttab") == "line one\nline two\ttab"


CODE = "\n\ndef f(x):\r\n    if x:  \n\t\treturn  x\n\n\n\n    return 0   \n"


def test_code_keeps_its_indentation_and_inner_spacing():
    config = NormalizeConfig()
    assert normalize_source_text(CODE, config, "code") == (
        "def f(x):\n    if x:\n\t\treturn  x\n\n    return 0"
    )
    indented_first = normalize_source_text("    x = 1\n", config, "code")
    assert indented_first == "    x = 1"


def test_prose_still_folds_whitespace_with_the_same_settings():
    config = NormalizeConfig()
    assert normalize_source_text(CODE, config, "text") == ("def f(x):\nif x:\nreturn x\n\nreturn 0")
    assert normalize_source_text(CODE, config, "text") == normalize_text(CODE)
