"""JSON lines for the side outputs: what was rejected or removed as a duplicate, and why.

Each line carries the original example so nothing the pipeline removes is lost: a
user can grep `rejected/` and re-ingest what they disagree with.
"""

from __future__ import annotations

import json
import re
from typing import Any

from polymix.transforms.example import Duplicate, Example, Rejection


def _example_json(example: Example) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": example.source,
        "id": example.id,
        "modality": example.modality,
    }
    body["original"] = example.original
    if example.text is not None:
        body["text"] = example.text  # as the rejecting stage saw it (normalized after `normalize`)
    if example.attributes:
        body["attributes"] = example.attributes
    return body


_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def stable_detail(detail: str) -> str:
    """Error text without object addresses, which differ per process and would break identity."""
    return _ADDRESS.sub(">", detail)


def rejection_line(rejection: Rejection) -> bytes:
    body = _example_json(rejection.example)
    body.update(stage=rejection.stage, reason=rejection.reason)
    if rejection.detail:
        body["detail"] = stable_detail(rejection.detail)
    return (json.dumps(body, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode(
        "utf-8"
    )


def duplicate_line(duplicate: Duplicate) -> bytes:
    body = _example_json(duplicate.example)
    body.update(
        stage=duplicate.stage, duplicate_of=duplicate.kept_id, similarity=duplicate.similarity
    )
    return (json.dumps(body, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode(
        "utf-8"
    )
