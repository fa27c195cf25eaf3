"""spaCy's English word segmentation, replayed in plain Python from a snapshot of its rules.

The Gopher and FineWeb rules count words as DataTrove does, with `spacy.blank("en")`. A regex that
imitated it drifted on real text (abbreviations like "J.", "im" as "i m", dotted names, "--Name"),
so this module runs spaCy's own algorithm on spaCy's own rules (`english_rules.py`, checked against
the installed spaCy by a test): split on whitespace; per chunk try the special cases, strip
prefixes and suffixes until none is left, then split on infixes; finally spaCy's special-case
matcher, which re-merges token runs that spell a special case (":" + "]" -> ":]").

It is fast because a chunk's tokens depend only on the chunk: they are memoized, and a document
is mostly chunks seen before. Output never depends on the memo, only speed does. The one effect
that crosses chunks (a matcher candidate spanning "[ :" blocks ":]" in the next chunk) is rare
and handled by replaying the matcher over the whole document when a chunk could trigger it.
"""

from __future__ import annotations

import re

from polymix.transforms.filters import english_rules as rules

SPECIAL_CASES = rules.SPECIAL_CASES
_prefix_search = re.compile(rules.PREFIX).search
_suffix_search = re.compile(rules.SUFFIX).search
_infix_finditer = re.compile(rules.INFIX).finditer
_url_match = re.compile(rules.URL).match
# True when the snapshot proved that no affix pattern can match inside a chunk of letters.
_LETTERS_STAY_WHOLE = rules.ALPHABETIC_STAYS_WHOLE
_GAP = re.compile(r"\s+")
MEMO_ENTRIES = 1 << 18  # ~40 MB of chunks and tokens per process; cleared when full
_MEMO: dict[str, tuple[str, ...]] = {}
# Chunks whose tokens the matcher may rewrite, kept out of _MEMO so that every sighting replays.
_SENSITIVE: dict[str, tuple[str, ...]] = {}


def _affix_length(search: object, string: str) -> int:
    match = search(string)  # type: ignore[operator]
    return match.end() - match.start() if match is not None else 0


def _strip_affixes(
    string: str, specials: dict[str, tuple[str, ...]]
) -> tuple[list[str], str, list[str]]:
    """spaCy's `_split_affixes`: peel prefixes and suffixes until none is left or a special is."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = -1
    while string and len(string) != last_size:
        if string in specials or (_LETTERS_STAY_WHOLE and string.isalpha()):
            break  # letters: a further pass would find no affix (see english_rules)
        last_size = len(string)
        pre_len = _affix_length(_prefix_search, string)
        if pre_len:
            prefix, minus_pre = string[:pre_len], string[pre_len:]
            if minus_pre and minus_pre in specials:
                prefixes.append(prefix)
                return prefixes, minus_pre, suffixes
        suf_len = _affix_length(_suffix_search, string[pre_len:])
        if suf_len:
            suffix, minus_suf = string[-suf_len:], string[:-suf_len]
            if minus_suf and minus_suf in specials:
                suffixes.append(suffix)
                return prefixes, minus_suf, suffixes
        if pre_len and suf_len and pre_len + suf_len <= len(string):
            prefixes.append(prefix)
            suffixes.append(suffix)
            string = string[pre_len:-suf_len]
        elif pre_len:
            prefixes.append(prefix)
            string = minus_pre
        elif suf_len:
            suffixes.append(suffix)
            string = minus_suf
    return prefixes, string, suffixes


def _split_infixes(string: str) -> list[str]:
    """spaCy's `_attach_tokens` for the core: a URL stays whole, otherwise split at infixes."""
    if _url_match(string):
        return [string]
    tokens: list[str] = []
    start = 0
    for match in _infix_finditer(string):
        infix_start, infix_end = match.span()
        if infix_start == 0:  # an infix at the very start does not split
            continue
        if infix_start != start:
            tokens.append(string[start:infix_start])
        if infix_start != infix_end:
            tokens.append(string[infix_start:infix_end])
        start = infix_end
    if string[start:]:
        tokens.append(string[start:])
    return tokens


def chunk_tokens(chunk: str, specials: dict[str, tuple[str, ...]] = SPECIAL_CASES) -> list[str]:
    """Tokens of one whitespace-free chunk before the special-case matcher runs."""
    if chunk in specials:
        return list(specials[chunk])
    prefixes, core, suffixes = _strip_affixes(chunk, specials)
    tokens = prefixes
    if core in specials:
        tokens.extend(specials[core])
    elif _LETTERS_STAY_WHOLE and core.isalpha():
        tokens.append(core)
    elif core:
        tokens.extend(_split_infixes(core))
    tokens.extend(reversed(suffixes))
    return tokens


def _matcher_patterns() -> dict[str, tuple[str, ...]]:
    """Special cases spaCy's matcher looks for: those its affix rules would otherwise split."""
    patterns = {}
    for string in SPECIAL_CASES:
        has_infix = next(_infix_finditer(string), None) is not None
        if _prefix_search(string) or _suffix_search(string) or has_infix:
            patterns[string] = tuple(chunk_tokens(string, {}))
    return patterns


MATCHER_PATTERNS = _matcher_patterns()
# Spellings of a pattern's first k tokens (k < its length): a candidate search stops at any other.
_REACH = max(map(len, MATCHER_PATTERNS.values())) - 1  # tokens a candidate spans beyond one
_PARTIAL_SPELLINGS = frozenset(
    "".join(pattern[:k]) for pattern in MATCHER_PATTERNS.values() for k in range(1, len(pattern))
)


def _candidates(tokens: list[str | None]) -> list[tuple[int, int]]:
    """Every run of tokens (no break inside) that spells a special case the way the rules split it."""
    found = []
    n = len(tokens)
    for i in range(n):
        spelled = ""
        for j in range(i, n):
            token = tokens[j]
            if token is None:
                break
            spelled += token
            pattern = MATCHER_PATTERNS.get(spelled)
            if pattern is not None and pattern == tuple(tokens[i : j + 1]):
                found.append((i, j + 1))
            if spelled not in _PARTIAL_SPELLINGS:
                break
    return found


def _kept_matches(found: list[tuple[int, int]]) -> dict[int, int]:
    """spaCy's `_filter_special_spans`: longest first, then leftmost; a span is dropped when its
    first or last token lies in any span considered before it (kept or not)."""
    seen: set[int] = set()
    kept = {}
    for start, end in sorted(found, key=lambda span: (span[0] - span[1], span[0])):
        if start not in seen and end - 1 not in seen:
            kept[start] = end
        seen.update(range(start, end))
    return kept


def _changes(tokens: list[str]) -> bool:
    """True when the matcher could rewrite this chunk's tokens (so the document needs a replay)."""
    return any(
        SPECIAL_CASES["".join(tokens[i:j])] != tuple(tokens[i:j]) for i, j in _candidates(tokens)
    )


def _raw_tokens(chunk: str) -> tuple[str, ...]:
    return _MEMO.get(chunk) or _SENSITIVE.get(chunk) or tuple(chunk_tokens(chunk))


class _Chunks:
    """A document's chunks, and (computed only when asked) which ones are glued by one space.

    spaCy absorbs one plain space after a token; any other whitespace run is a token of its own,
    so only chunks separated by exactly " " can share a matcher candidate.
    """

    def __init__(self, text: str, chunks: list[str]) -> None:
        self.text = text
        self.chunks = chunks
        self._gaps: list[str] | None = None
        self._lead = 0

    def attached(self, k: int) -> bool:
        """True when chunk k follows chunk k - 1 after exactly one plain space."""
        if self._gaps is None:
            # `\s` is exactly str.isspace (checked over every code point by a test), so the gaps
            # line up with str.split's chunks; a leading gap comes first when the text has one.
            self._gaps = _GAP.findall(self.text)
            self._lead = 1 if self.text[:1].isspace() else 0
        return k > 0 and self._gaps[k - 1 + self._lead] == " "

    def window(self, k: int, glued: bool) -> tuple[list[str], int, int]:
        """Chunk k's tokens with as many neighbouring tokens as a pattern can reach, and where
        chunk k sits in them; `glued=False` assumes every neighbour is glued (no text needed)."""
        before: list[str] = []
        j = k
        while j > 0 and len(before) < _REACH and (not glued or self.attached(j)):
            j -= 1
            before[:0] = _raw_tokens(self.chunks[j])
        after: list[str] = []
        j = k + 1
        while j < len(self.chunks) and len(after) < _REACH and (not glued or self.attached(j)):
            after += _raw_tokens(self.chunks[j])
            j += 1
        before = before[max(0, len(before) - _REACH) :]
        tokens = _raw_tokens(self.chunks[k])
        return [*before, *tokens, *after[:_REACH]], len(before), len(before) + len(tokens)


def _rewrite(chunks: _Chunks, k: int) -> list[str]:
    """Chunk k after spaCy's matcher, which also sees candidates reaching into its neighbours."""
    window, first, stop = chunks.window(k, glued=False)
    found = _candidates(window)  # type: ignore[arg-type]
    if any(start < first or end > stop for start, end in found):
        window, first, stop = chunks.window(k, glued=True)
        found = _candidates(window)  # type: ignore[arg-type]
    kept = _kept_matches(found)
    out: list[str] = []
    i = first
    while i < stop:
        end = kept.get(i, stop + 1)
        if end <= stop:  # a span with a space in it names no rule: spaCy leaves those tokens
            out.extend(SPECIAL_CASES["".join(window[i:end])])
            i = end
        else:
            out.append(window[i])
            i += 1
    return out


def _new_chunk(chunk: str) -> tuple[tuple[str, ...], bool]:
    """A chunk missing from the memo: its tokens, and whether the matcher may rewrite them."""
    if _LETTERS_STAY_WHOLE and chunk.isalpha():
        # Proven when the snapshot is made: no affix pattern matches inside letters, so only a
        # special case ("cannot", "gonna") splits such a chunk, into letters the matcher ignores.
        result = SPECIAL_CASES.get(chunk) or (chunk,)
        _remember(chunk, result)
        return result, False
    known = _SENSITIVE.get(chunk)
    if known is not None:
        return known, True
    tokens = chunk_tokens(chunk)
    if len(tokens) > 1 and _changes(tokens):
        if len(_SENSITIVE) >= MEMO_ENTRIES // 8:
            _SENSITIVE.clear()
        _SENSITIVE[chunk] = result = tuple(tokens)
        return result, True
    result = tuple(tokens)
    _remember(chunk, result)
    return result, False


def _remember(chunk: str, tokens: tuple[str, ...]) -> None:
    if len(_MEMO) >= MEMO_ENTRIES:
        _MEMO.clear()
    _MEMO[chunk] = tokens


def split_words(text: str) -> list[str]:
    """spaCy English tokens of `text`, whitespace tokens dropped: DataTrove's `split_into_words`."""
    words: list[str] = []
    rewrites: list[tuple[int, int, int]] = []  # (chunk index, first word, words) to redo
    memo = _MEMO
    chunks = text.split()
    for k, chunk in enumerate(chunks):
        tokens = memo.get(chunk)
        if tokens is None:
            tokens, changes = _new_chunk(chunk)
            if changes:
                rewrites.append((k, len(words), len(tokens)))
        words += tokens
    if not rewrites:
        return words
    view = _Chunks(text, chunks)
    out: list[str] = []
    done = 0
    for k, first, n in rewrites:
        out += words[done:first]
        out += _rewrite(view, k)
        done = first + n
    out += words[done:]
    return out


def spaced_words(text: str) -> list[str]:
    """`split_words`, plus " " wherever spaCy makes a whitespace token (sentences need those).

    spaCy folds one plain space after a token into that token; every other whitespace run, and
    a run at the very start, is a token of its own.
    """
    out: list[str] = []
    done = 0
    for gap in _GAP.finditer(text):
        if gap.group() != " " or gap.start() == 0:
            out += split_words(text[done : gap.start()])
            out.append(" ")
            done = gap.end()
    out += split_words(text[done:])
    return out
