"""Parse JSONL and Parquet files into `Example`s, turning every defect into a `Rejection`.

The reader never raises on bad content: a malformed line, invalid UTF-8, a missing
text field, an empty or unreadable file each become one rejected input with a reason,
so the manifest can account for it. Whitespace-only lines are not examples.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from polymix.transforms.example import Example, Rejection

STAGE = "read"


@dataclass(frozen=True)
class TextSourceSpec:
    """What the reader needs to know about a source (a slice of its config)."""

    name: str
    modality: str
    format: str
    text_field: str = "text"
    id_field: str | None = None
    web: Any = None  # format warc: a `polymix.core.config.web.WebSourceConfig`


def _decompressed(raw: IO[bytes], path: str) -> IO[bytes]:
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if path.endswith(".zst") or path.endswith(".zstd"):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)  # adds the line iteration zstandard's reader lacks
    return raw


def _file_rejection(
    spec: TextSourceSpec, file_id: str, path: str, reason: str, detail: str
) -> Rejection:
    example = Example(spec.name, f"{file_id}:file", spec.modality, original={"file": path})
    return Rejection(example, STAGE, reason, detail)


def _line_rejection(
    spec: TextSourceSpec,
    example_id: str,
    path: str,
    line_no: int,
    reason: str,
    raw: Any,
    detail: str = "",
) -> Rejection:
    original: dict[str, Any] = {"file": path, "line": line_no}
    if isinstance(raw, bytes):
        original["raw_base64"] = base64.b64encode(raw).decode("ascii")
    else:
        original["raw"] = raw
    return Rejection(
        Example(spec.name, example_id, spec.modality, original=original), STAGE, reason, detail
    )


def example_from_object(
    spec: TextSourceSpec, obj: Any, default_id: str, path: str, line_no: int
) -> Example | Rejection:
    """Validate one decoded object: it must be a mapping with a string text field."""
    if not isinstance(obj, dict):
        return _line_rejection(spec, default_id, path, line_no, "not_an_object", obj)
    example_id = default_id
    if spec.id_field is not None and obj.get(spec.id_field) not in (None, ""):
        example_id = str(obj[spec.id_field])
    if spec.text_field not in obj or obj[spec.text_field] is None:
        return _line_rejection(spec, example_id, path, line_no, "missing_text_field", obj)
    text = obj[spec.text_field]
    if not isinstance(text, str):
        return _line_rejection(spec, example_id, path, line_no, "text_not_a_string", obj)
    # The text travels once, in `text`; `original` keeps the other fields (url, title, ...).
    rest = {key: value for key, value in obj.items() if key != spec.text_field}
    return Example(spec.name, example_id, spec.modality, text=text, original=rest)


def read_jsonl(
    spec: TextSourceSpec, raw: IO[bytes], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    line_no = 0
    emitted = 0
    try:
        stream = _decompressed(raw, path)
        for line_no, line in enumerate(stream, 1):
            if not line.strip():
                continue
            default_id = f"{file_id}:{line_no}"
            emitted += 1
            try:
                decoded = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield _line_rejection(
                    spec, default_id, path, line_no, "invalid_utf8", line.rstrip(b"\n"), str(exc)
                )
                continue
            try:
                obj = json.loads(decoded)
            except ValueError as exc:
                yield _line_rejection(
                    spec, default_id, path, line_no, "invalid_json", decoded.rstrip("\n"), str(exc)
                )
                continue
            yield example_from_object(spec, obj, default_id, path, line_no)
    except Exception as exc:  # a corrupt archive or I/O error: account for the rest of the file
        yield _file_rejection(
            spec, file_id, path, "unreadable_file", f"after line {line_no}: {exc}"
        )
        return
    if emitted == 0:
        yield _file_rejection(spec, file_id, path, "empty_file", "no examples in file")


def read_parquet(
    spec: TextSourceSpec, raw: IO[bytes], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    import pyarrow.parquet as pq

    row = 0
    try:
        table_file = pq.ParquetFile(raw)
        for batch in table_file.iter_batches(batch_size=1024):
            for obj in batch.to_pylist():
                yield example_from_object(spec, obj, f"{file_id}:{row}", path, row)
                row += 1
    except Exception as exc:
        yield _file_rejection(spec, file_id, path, "unreadable_file", f"after row {row}: {exc}")
        return
    if row == 0:
        yield _file_rejection(spec, file_id, path, "empty_file", "no rows in file")


def read_warc(
    spec: TextSourceSpec, raw: IO[bytes], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    from polymix.transforms.web.warc import read_warc as read_web_archive

    yield from read_web_archive(spec, raw, path, file_id)


READERS: dict[
    str, Callable[[TextSourceSpec, IO[bytes], str, str], Iterator[Example | Rejection]]
] = {
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "warc": read_warc,
}


def read_text_file(
    spec: TextSourceSpec, open_file: Callable[[], IO[bytes]], path: str, file_id: str
) -> Iterator[Example | Rejection]:
    """All examples of one file; `file_id` (path relative to its glob) makes default ids stable."""
    try:
        raw = open_file()
    except Exception as exc:
        yield _file_rejection(spec, file_id, path, "unreadable_file", str(exc))
        return
    with raw:
        yield from READERS[spec.format](spec, raw, path, file_id)
