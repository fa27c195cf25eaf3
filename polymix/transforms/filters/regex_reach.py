"""Can a regular expression match anywhere in a string made only of some characters?

`words.split_words` skips spaCy's affix rules for chunks that are all letters, which is only
exact if no prefix, suffix or infix pattern can match inside such a chunk. This answers that from
the pattern's parse tree: a match needs every element that must consume a character (and every
lookahead or lookbehind that must) to find one in the alphabet, so if some branch element cannot,
that branch cannot match. The answer errs only towards "may match" (negative lookarounds and
group references are taken as no constraint), so "cannot" is a proof.

It reads `re._parser`, CPython's own regex parser; it runs when the rules snapshot is made and in
the tests that check it, never per document.
"""

from __future__ import annotations

import re
import re._compiler as sre_compile
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable
from typing import Any

_ONE_CHARACTER = (sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


def _consumes_one_of(op: Any, argument: Any, alphabet: str, flags: int) -> bool:
    element = sre_parse.SubPattern(sre_parse.State())
    element.data = [(op, argument)]
    # The element takes exactly one character, so it matches in the string of all of them
    # exactly when it matches one of them.
    return sre_compile.compile(element, flags).search(alphabet) is not None


def _may_match(items: Any, alphabet: str, flags: int) -> bool:
    for op, argument in items:
        if op is sre.ASSERT:  # a lookahead or lookbehind that must see something
            needed = [argument[1]]
        elif op is sre.BRANCH:
            if not any(_may_match(branch, alphabet, flags) for branch in argument[1]):
                return False
            continue
        elif op is sre.SUBPATTERN:
            needed = [argument[3]]
        elif op in _REPEATS:
            needed = [argument[2]] if argument[0] > 0 else []
        elif op is sre.ATOMIC_GROUP:
            needed = [argument]
        elif op in _ONE_CHARACTER:
            if not _consumes_one_of(op, argument, alphabet, flags):
                return False
            continue
        else:  # anchors, negative lookarounds, group references: no constraint we rely on
            continue
        if not all(_may_match(part, alphabet, flags) for part in needed):
            return False
    return True


def may_match_within(pattern: str, alphabet: Iterable[str]) -> bool:
    """False only when `pattern` cannot match any substring of a string of `alphabet`'s chars."""
    flags = re.compile(pattern).flags
    return _may_match(sre_parse.parse(pattern, flags).data, "".join(alphabet), flags)
