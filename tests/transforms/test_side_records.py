"""Side lines hold any input: writing one never fails, and it reads back as what it holds."""

import json
import pickle

from polymix.transforms.example import Duplicate, Example, Rejection
from polymix.transforms.side_records import duplicate_line, rejection_line


def _deep(depth: int) -> dict:
    top = node = {}
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return top


def test_lone_surrogates_anywhere_are_written_as_their_json_escapes():
    example = Example(
        "web",
        "id-\ud800",
        "text",
        text="half an emoji \ud83d",
        original={"member": "caf\udce9.jpg", "\udfff": 1},
        attributes={"note": "\udc80"},
    )
    line = rejection_line(Rejection(example, "read", "bad", "decoder said \udcff"))
    line.decode("utf-8")  # valid UTF-8, so it can be written and gzipped
    row = json.loads(line)
    assert row["id"] == "id-\ud800" and row["text"] == "half an emoji \ud83d"
    assert row["original"] == {"member": "caf\udce9.jpg", "\udfff": 1}
    assert row["attributes"] == {"note": "\udc80"} and row["detail"] == "decoder said \udcff"
    duplicate = json.loads(duplicate_line(Duplicate(example, "exact_dedup", "k\udc80")))
    assert duplicate["duplicate_of"] == "k\udc80"


def test_original_is_json_text_at_any_depth_and_the_line_shows_the_object():
    example = Example("web", "d", "text", text="x", original={"meta": _deep(500)})
    assert isinstance(example.original, str)
    pickle.loads(pickle.dumps(example))  # crosses a shuffle as one flat string
    row = json.loads(rejection_line(Rejection(example, "read", "r")).decode())
    assert row["original"]["meta"]["a"]["a"] == _deep(498)
    assert example.replace(text="y").original == example.original


def test_lines_keep_the_json_dumps_layout():
    example = Example("web", "d", "text", text="é", original={"url": "u"})
    line = rejection_line(Rejection(example, "quality", "short", "3 words"))
    fields = {
        "detail": "3 words",
        "id": "d",
        "modality": "text",
        "original": {"url": "u"},
        "reason": "short",
        "source": "web",
        "stage": "quality",
        "text": "é",
    }
    assert line == (json.dumps(fields, sort_keys=True, ensure_ascii=False) + "\n").encode()


def test_a_huge_error_detail_is_cut():
    example = Example("web", "d", "text")
    line = rejection_line(Rejection(example, "read", "r", "x" * 10_000_000))
    assert len(line) < 20_000 and b"more characters" in line
