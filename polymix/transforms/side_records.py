"""JSON lines for the side outputs: what was rejected or removed as a duplicate, and why.

Each line carries the original example so nothing the pipeline removes is lost: a
user can grep `rejected/` and re-ingest what they disagree with. A side line can hold
any input, so writing one can never fail: `original` is spliced in as the JSON text
the reader kept, and whatever UTF-8 cannot encode (a lone surrogate in an id, a
text or an error message) is written as its `\\udXXX` JSON escape, which reads back
as the same string.
"""

from __future__ import annotations

import json
import re
from typing import Any

from polymix.transforms.example import Duplicate, Example, Rejection

# An error's detail (a traceback, a library's message) is for a human; past this it is cut.
MAX_DETAIL_CHARS = 16_384

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def stable_detail(detail: str) -> str:
    """Error text without object addresses, which differ per process and would break identity."""
    detail = _ADDRESS.sub(">", detail)
    if len(detail) > MAX_DETAIL_CHARS:
        cut = len(detail) - MAX_DETAIL_CHARS
        detail = f"{detail[:MAX_DETAIL_CHARS]}... [{cut} more characters]"
    return detail


def json_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _example_fields(example: Example) -> dict[str, str]:
    """Field name -> JSON text of its value."""
    fields = {
        "source": json_value(example.source),
        "id": json_value(example.id),
        "modality": json_value(example.modality),
        "original": example.original or "{}",
    }
    if example.text is not None:
        fields["text"] = json_value(example.text)  # as the rejecting stage saw it
    if example.attributes:
        fields["attributes"] = json_value(example.attributes)
    return fields


def json_line(fields: dict[str, str]) -> bytes:
    """One JSON object per line from already-encoded values, keys sorted as `json.dumps` sorts them.

    `backslashreplace` turns a lone surrogate into `\\udXXX`: inside a JSON string (the
    only place one can be, since json.dumps escapes every backslash) that is its escape.
    """
    body = ", ".join(f"{json.dumps(key)}: {value}" for key, value in sorted(fields.items()))
    return ("{" + body + "}\n").encode("utf-8", "backslashreplace")


def rejection_line(rejection: Rejection) -> bytes:
    fields = _example_fields(rejection.example)
    fields["stage"] = json_value(rejection.stage)
    fields["reason"] = json_value(rejection.reason)
    if rejection.detail:
        fields["detail"] = json_value(stable_detail(rejection.detail))
    return json_line(fields)


def duplicate_line(duplicate: Duplicate) -> bytes:
    fields = _example_fields(duplicate.example)
    fields["stage"] = json_value(duplicate.stage)
    fields["duplicate_of"] = json_value(duplicate.kept_id)
    fields["similarity"] = json_value(duplicate.similarity)
    return json_line(fields)
