"""Rejections and duplicates as side-file items: one line each, whatever the example holds.

The line encoders (`transforms.side_records`) escape what UTF-8 cannot encode; should
one still fail (an attribute whose `str()` raises), the example gets a minimal line
naming it and the error, in the same file group, so the side files still hold one
line per rejected or removed example. The sort key (the id) is escaped too: it is
hashed as UTF-8 to place the line.
"""

from __future__ import annotations

from polymix.pipelines.grouped_write import Item
from polymix.transforms.example import Duplicate, Example, Rejection
from polymix.transforms.failures import failure_detail, failure_reason
from polymix.transforms.side_records import duplicate_line, json_line, json_value, rejection_line
from polymix.transforms.unicode_safety import escape_unencodable


def _fallback_line(example: Example, facts: dict[str, str], exc: Exception) -> bytes:
    fields = {
        "source": json_value(example.source),
        "id": json_value(example.id),
        "modality": json_value(example.modality),
        **facts,
        "encode_error": json_value(f"{failure_reason(exc)}\n{failure_detail(exc)}"),
    }
    return json_line(fields)


def rejected_item(rejection: Rejection) -> Item:
    example = rejection.example
    try:
        line = rejection_line(rejection)
    except Exception as exc:
        facts = {"stage": json_value(rejection.stage), "reason": json_value(rejection.reason)}
        line = _fallback_line(example, facts, exc)
    group = (example.source, rejection.stage, escape_unencodable(rejection.reason))
    return Item(group, escape_unencodable(example.id), line)


def duplicate_item(duplicate: Duplicate) -> Item:
    example = duplicate.example
    try:
        line = duplicate_line(duplicate)
    except Exception as exc:
        facts = {
            "stage": json_value(duplicate.stage),
            "duplicate_of": json_value(duplicate.kept_id),
        }
        line = _fallback_line(example, facts, exc)
    return Item((example.source, duplicate.stage), escape_unencodable(example.id), line)
