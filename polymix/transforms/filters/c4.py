"""C4's page cleaning (Raffel et al. 2020; TFDS `c4_utils.clean_page`).

Most C4 rules remove lines, not pages: lines without terminal punctuation, with too few words,
mentioning javascript or cookie/terms policies, or holding an absurdly long word. Removing lines is
a modification (counted in `Tags.modified`); the page itself is rejected only for "lorem ipsum", a
curly bracket or too few sentences left. As in TFDS, the page-level checks look only at lines that
survived the line rules, in order, so a "{" in a dropped menu line does not reject the page.
Sentences are counted per kept line with spaCy's sentencizer rule, as DataTrove counts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from polymix.transforms.filters import sentences
from polymix.transforms.filters.base import Cut, Tags, failed_cuts
from polymix.transforms.filters.text import DocView

_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
_END_MARKS = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


def _spacy_sentences(line: str) -> int:
    from polymix.transforms.filters import spacy_words

    return spacy_words.count_sentences(line)


SENTENCE_COUNTERS: dict[str, Callable[[str], int]] = {
    "fast": sentences.count_sentences,
    "spacy": _spacy_sentences,
}


class C4:
    name = "c4"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.cuts = (Cut("too_few_sentences", "sentences", "<", config.min_sentences),)
        self._count_sentences = SENTENCE_COUNTERS[config.words]

    def tag(self, doc: DocView) -> Tags:
        c = self.config
        removed = {"long_word": 0, "no_terminal_punct": 0, "few_words": 0}
        removed |= {"javascript": 0, "policy": 0}
        kept: list[str] = []
        citations = n_sentences = 0
        first_page_flaw = ""
        lorem = curly = False
        for raw in doc.lines:
            line = raw.strip()
            words = line.split()
            too_long = c.max_word_length > 0 and len(line) > c.max_word_length
            if too_long and any(len(w) > c.max_word_length for w in words):
                removed["long_word"] += 1
                continue
            if c.remove_citations and "[" in line:
                line, n = _CITATION.subn("", line)
                citations += n
            if c.require_terminal_punct and (not line.endswith(_END_MARKS) or line.endswith("...")):
                removed["no_terminal_punct"] += 1
                continue
            if len(words) < c.min_words_per_line:
                removed["few_words"] += 1
                continue
            lower = line.lower()
            if "lorem ipsum" in lower:
                lorem = True
                first_page_flaw = first_page_flaw or "lorem_ipsum"
            if c.remove_javascript_lines and "javascript" in lower:
                removed["javascript"] += 1
                continue
            if "{" in line:
                curly = True
                first_page_flaw = first_page_flaw or "curly_bracket"
            if c.remove_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS):
                removed["policy"] += 1
                continue
            n_sentences += self._count_sentences(line)
            kept.append(line)
        lines_removed = sum(removed.values())
        new_text = "\n".join(kept).strip()
        attributes = {
            "lines": len(doc.lines),
            "lines_removed": lines_removed,
            **{f"removed_{reason}": n for reason, n in removed.items()},
            "citations_removed": citations,
            "sentences": n_sentences,
            "lorem_ipsum": lorem,
            "curly_bracket": curly,
            "first_page_flaw": first_page_flaw,
        }
        modified = {}
        if lines_removed:
            modified["lines_removed"] = lines_removed
        if citations:
            modified["citations_removed"] = citations
        changed = new_text != doc.text
        if changed and not modified:
            modified["whitespace"] = 1
        return Tags(attributes, text=new_text if changed else None, modified=modified)

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        c, a = self.config, attributes
        flaws = []
        if c.reject_lorem_ipsum and a["lorem_ipsum"]:
            flaws.append("lorem_ipsum")
        if c.reject_curly_bracket and a["curly_bracket"]:
            flaws.append("curly_bracket")
        # TFDS stops at the first flawed line, so that flaw names the page's reason.
        flaws.sort(key=lambda reason: reason != a["first_page_flaw"])
        return flaws + failed_cuts(self.cuts, a)
