"""spaCy's English tokenizer itself, for `words: spacy`, and the snapshot of its rules we ship.

DataTrove counts Gopher and FineWeb words with `spacy.blank("en")`, so spaCy is the reference.
`split_words` calls it exactly as DataTrove does (inside a memory zone, so the vocabulary does not
grow with the corpus). `english_rules.py` is a snapshot of the rules it applies, which
`words.split_words` replays without spaCy; `python -m polymix.transforms.filters.spacy_words`
rewrites that snapshot from the installed spaCy, and a test fails when the two drift apart.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from polymix.core.errors import UserFacingError

SNAPSHOT = Path(__file__).with_name("english_rules.py")
_ORTH = 65  # spacy.attrs.ORTH: the key of a special case's token text


@cache
def _english() -> Any:
    """`spacy.blank("en")` with the sentencizer, as DataTrove builds it."""
    try:
        import spacy
    except ImportError:
        raise UserFacingError(
            "words: spacy needs spaCy (pip install 'spacy>=3.8,<3.9'); words: fast needs nothing"
        ) from None
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def _tokenizer() -> Any:
    return _english().tokenizer


def split_words(text: str) -> list[str]:
    """spaCy's English tokens without whitespace tokens: DataTrove's `split_into_words`."""
    tokenizer = _tokenizer()
    with tokenizer.vocab.memory_zone():
        return [token.text for token in tokenizer(text) if token.text.strip()]


def count_sentences(text: str) -> int:
    """Non-blank sentences spaCy's sentencizer finds: `len(split_into_sentences(text))`."""
    nlp = _english()
    nlp.max_length = max(nlp.max_length, len(text) + 10)
    with nlp.memory_zone():
        return sum(1 for sentence in nlp(text).sents if sentence.text.strip())


def rules_from_spacy() -> dict[str, Any]:
    """Everything `words.split_words` needs to tokenize as the installed spaCy does."""
    import spacy
    from spacy.pipeline import Sentencizer

    from polymix.transforms.filters.regex_reach import may_match_within

    tokenizer = _tokenizer()
    specials = {
        string: tuple(piece[_ORTH] for piece in pieces)
        for string, pieces in sorted(tokenizer.rules.items())
        if not string.isspace()  # whitespace never reaches the rules: it separates chunks
    }
    affixes = {
        "PREFIX": tokenizer.prefix_search.__self__.pattern,
        "SUFFIX": tokenizer.suffix_search.__self__.pattern,
        "INFIX": tokenizer.infix_finditer.__self__.pattern,
    }
    alphabetic = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isalpha()]
    return {
        "SPACY_VERSION": spacy.__version__,
        **affixes,
        "URL": tokenizer.url_match.__self__.pattern,
        "SENTENCE_PUNCT": "".join(sorted(Sentencizer.default_punct_chars)),
        "ALPHABETIC_STAYS_WHOLE": not any(
            may_match_within(pattern, alphabetic) for pattern in affixes.values()
        ),
        "SPECIAL_CASES": specials,
    }


def render_snapshot(rules: dict[str, Any]) -> str:
    header = (
        '"""spaCy\'s English tokenizer rules, as data: generated, do not edit.\n\n'
        f"Snapshot of spaCy {rules['SPACY_VERSION']} (MIT License, Explosion AI): the prefix,"
        " suffix and infix\npatterns, the URL pattern, the sentencizer's punctuation and the"
        ' special cases of\n`spacy.blank("en")`. Regenerate with'
        ' `python -m polymix.transforms.filters.spacy_words`.\n"""\n\n'
    )
    lines = [header]
    for name in ("SPACY_VERSION", "PREFIX", "SUFFIX", "INFIX", "URL", "SENTENCE_PUNCT"):
        lines.append(f"{name} = {rules[name]!r}\n")
    lines.append(
        "# No prefix, suffix or infix pattern can match inside a chunk of letters only\n"
        "# (`regex_reach.may_match_within` over every `str.isalpha` character).\n"
        f"ALPHABETIC_STAYS_WHOLE = {rules['ALPHABETIC_STAYS_WHOLE']!r}\n"
    )
    lines.append("SPECIAL_CASES: dict[str, tuple[str, ...]] = {\n")
    for string, pieces in rules["SPECIAL_CASES"].items():
        lines.append(f"    {string!r}: {pieces!r},\n")
    lines.append("}\n")
    return "".join(lines)


def main() -> int:
    SNAPSHOT.write_text(render_snapshot(rules_from_spacy()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}; run `ruff format` on it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
