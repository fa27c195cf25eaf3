"""Small builders for filter tests: prose that passes every rule unless a test breaks one."""

from __future__ import annotations

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
