"""Small builders for filter tests: prose that passes every rule unless a test breaks one."""

from __future__ import annotations

import hashlib
from functools import cache

from polymix.core.config.filters import FiltersConfig
from polymix.transforms.filters.base import Tags
from polymix.transforms.filters.text import DocView

SENTENCE = "The village council has decided that the library will be restored with care."


def prose(sentences: int = 8) -> str:
    """Varied English sentences (no repeated n-grams) of about 13 words each."""
    subjects = [
        "The council",
        "A teacher",
        "Our family",
        "The museum",
        "Each student",
        "The doctor",
        "A farmer",
        "The engineer",
        "Their neighbour",
        "The mayor",
        "A writer",
        "The captain",
        "One visitor",
        "The baker",
        "A pilot",
        "The judge",
    ]
    verbs = [
        "repaired",
        "visited",
        "described",
        "painted",
        "measured",
        "opened",
        "studied",
        "cleaned",
        "borrowed",
        "returned",
        "explained",
        "designed",
        "planted",
        "sold",
        "carried",
        "found",
    ]
    objects = [
        "old bridge",
        "small garden",
        "northern road",
        "village school",
        "stone tower",
        "wooden boat",
        "quiet harbour",
        "green valley",
        "market square",
        "red barn",
        "city archive",
        "river mill",
        "high fence",
        "new clinic",
        "long wall",
        "east gate",
    ]
    tails = [
        "before winter came",
        "with great patience",
        "after a long debate",
        "to everyone's surprise",
        "for the third time",
        "without any help",
        "during the spring fair",
        "as the town had hoped",
        "while the rain fell",
        "under a clear sky",
        "despite the cost",
        "at the request of friends",
        "in a single week",
        "on a cold morning",
        "with borrowed tools",
        "for a small fee",
    ]
    out = []
    for i in range(sentences):
        s, v, o = subjects[i % 16], verbs[(i * 5) % 16], objects[(i * 7) % 16]
        out.append(f"{s} {v} that {o} {tails[(i * 3) % 16]}.")
    return " ".join(out)


def tag(stage: object, text: str) -> Tags:
    return stage.tag(DocView(text))  # type: ignore[attr-defined]


def decide(stage: object, text: str) -> list[str]:
    return stage.decide(tag(stage, text).attributes)  # type: ignore[attr-defined]


DEFAULTS = FiltersConfig()


@cache
def real_corpus() -> tuple[dict, ...]:
    """Real documents nobody here wrote (Debian's manuals, help, docs, fortunes, dictionary,
    licences), built from Debian's archive on first use and cached outside the repository."""
    from benchmarks.real_corpus import documents

    return tuple(documents())


def real_sample(
    per_kind: int | None = None, max_chars: int | None = None, total: int = 0
) -> list[dict]:
    """A deterministic sample of the real corpus, stratified by kind.

    Either `per_kind` documents of every kind or `total` documents shared in proportion to the
    kinds' sizes (at least one each), chosen by the hash of their id; with `max_chars`, only
    documents that short are eligible (the full corpus runs in the slow tests).
    """
    by_kind: dict[str, list[dict]] = {}
    for doc in real_corpus():
        if max_chars is None or len(doc["text"]) <= max_chars:
            by_kind.setdefault(doc["kind"], []).append(doc)
    eligible = sum(map(len, by_kind.values()))
    chosen = []
    for _kind, docs in sorted(by_kind.items()):
        share = per_kind if per_kind is not None else max(1, round(total * len(docs) / eligible))
        ranked = sorted(docs, key=lambda d: hashlib.sha256(d["id"].encode()).hexdigest())
        chosen += ranked[:share]
    return sorted(chosen, key=lambda d: d["id"])
