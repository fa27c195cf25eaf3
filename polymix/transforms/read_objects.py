"""One decoded record (a JSON object, a Parquet or Arrow row, a CSV row) → an `Example` or a `Rejection`.

What every reader shares: the source's slice of config, how a rejection names its
input, and how the text and id fields are found in a record.

Field names may be dotted paths into nested objects (`meta.body`, a Parquet or Arrow
struct column, a JSON object): a key spelled exactly as the name wins (a CSV header or
JSON key `meta.body`), otherwise the part before the first dot names an object to look
in, and so on. The text travels once, in `Example.text`: it is taken out of its object,
and `original` keeps the other fields (url, title, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from polymix.core.config.read import ReadConfig
from polymix.transforms.example import Example, Rejection, original_json
from polymix.transforms.failures import failed
from polymix.transforms.unicode_safety import has_control_characters, is_encodable

STAGE = "read"

Item = Example | Rejection
Opener = Callable[[], IO[bytes]]
Reader = Callable[["TextSourceSpec", IO[bytes], Opener, str, str], Iterator[Item]]


@dataclass(frozen=True)
class TextSourceSpec:
    """What the reader needs to know about a source (a slice of its config)."""

    name: str
    modality: str
    format: str
    text_field: str = "text"
    id_field: str | None = None
    limits: ReadConfig = field(default_factory=ReadConfig)
    delimiter: str = ","  # csv only
    web: Any = None  # warc only: a `polymix.core.config.web.WebSourceConfig`


def rejection(
    spec: TextSourceSpec,
    example_id: str,
    original: dict[str, Any],
    reason: str,
    detail: str = "",
    text: str | None = None,
) -> Rejection:
    example = Example(spec.name, example_id, spec.modality, text=text, original=original)
    return Rejection(example, STAGE, reason, detail)


def file_rejection(
    spec: TextSourceSpec, file_id: str, reason: str, detail: str, **where: Any
) -> Rejection:
    """A whole file, or the rest of it from `from_line` / `from_row` on, as one input."""
    start = where.get("from_line", where.get("from_row"))
    suffix = "file" if start is None else f"{start}+"
    return rejection(spec, f"{file_id}:{suffix}", {"file": file_id, **where}, reason, detail)


def row_rejections(
    spec: TextSourceSpec, file_id: str, rows: range, reason: str, detail: str
) -> Iterator[Rejection]:
    """One rejection per row of a block whose rows are known but cannot be decoded."""
    for row in rows:
        yield rejection(spec, f"{file_id}:{row}", {"file": file_id, "row": row}, reason, detail)


def locate(obj: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    """(the object holding `path`'s value, its key): the literal key first, then nesting."""
    while True:
        if path in obj:
            return obj, path
        head, dot, rest = path.partition(".")
        inner = obj.get(head) if dot else None
        if not isinstance(inner, dict):
            return None
        obj, path = inner, rest


def field_value(obj: dict[str, Any], path: str) -> Any:
    """The value at `path` (see `locate`), None when there is none."""
    found = locate(obj, path)
    return None if found is None else found[0][found[1]]


def _example_id(
    spec: TextSourceSpec, obj: dict[str, Any], default_id: str
) -> tuple[str, tuple[str, str] | None]:
    """(id, None) or (default id, (reason, detail)) when the id field holds no usable id."""
    value = field_value(obj, spec.id_field) if spec.id_field is not None else None
    if value is None or value == "":
        return default_id, None
    if isinstance(value, dict | list):
        return default_id, ("invalid_id", f"{spec.id_field} is a {type(value).__name__}")
    example_id = value if isinstance(value, str) else str(value)
    limit = spec.limits.max_id_chars
    if len(example_id) > limit:
        detail = f"{spec.id_field} has {len(example_id)} characters > read.max_id_chars {limit}"
        return default_id, ("invalid_id", detail)
    if example_id.isprintable():  # the common case: no control character, no surrogate
        return example_id, None
    if not is_encodable(example_id):
        return default_id, ("invalid_unicode", f"{spec.id_field} holds a lone surrogate")
    if has_control_characters(example_id):
        return default_id, ("invalid_id", f"{spec.id_field} holds control characters")
    return example_id, None


def _rejected_object(
    spec: TextSourceSpec, example_id: str, obj: Any, file_id: str, where: dict[str, int], *why: str
) -> Rejection:
    return rejection(spec, example_id, {"file": file_id, **where, "raw": obj}, *why)


def example_from_object(
    spec: TextSourceSpec, obj: Any, default_id: str, file_id: str, where: dict[str, int]
) -> Item:
    """Validate one decoded record: a mapping with a usable id and an encodable string text."""
    if not isinstance(obj, dict):
        return _rejected_object(spec, default_id, obj, file_id, where, "not_an_object")
    example_id, problem = _example_id(spec, obj, default_id)
    if problem is not None:
        return _rejected_object(spec, example_id, obj, file_id, where, *problem)
    found = locate(obj, spec.text_field)
    text = None if found is None else found[0][found[1]]
    if not isinstance(text, str):
        reason = "missing_text_field" if text is None else "text_not_a_string"
        return _rejected_object(spec, example_id, obj, file_id, where, reason)
    if not is_encodable(text):
        detail = f"{spec.text_field} holds a lone surrogate"
        return _rejected_object(spec, example_id, obj, file_id, where, "invalid_unicode", detail)
    holder, key = found  # type: ignore[misc]
    del holder[key]
    limit = spec.limits.max_text_chars
    if len(text) > limit:
        detail = f"{len(text)} characters > read.max_text_chars {limit}"
        original = {"file": file_id, **where, "raw": obj, "text_chars": len(text)}
        prefix = text[: spec.limits.rejected_prefix_bytes]
        return rejection(spec, example_id, original, "text_too_long", detail, text=prefix)
    return Example(spec.name, example_id, spec.modality, text=text, original=original_json(obj))


def isolated_object(
    spec: TextSourceSpec, obj: Any, default_id: str, file_id: str, where: dict[str, int]
) -> Item:
    """`example_from_object`, whose own failure rejects only this record (`error:<Type>`)."""
    try:
        return example_from_object(spec, obj, default_id, file_id, where)
    except Exception as exc:
        example = Example(spec.name, default_id, spec.modality, original={"file": file_id, **where})
        return failed(example, STAGE, exc)
