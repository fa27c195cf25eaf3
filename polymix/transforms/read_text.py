"""Read text files of any configured format into `Example`s, turning every defect into a `Rejection`.

`READERS` maps a source's `format` to its reader: JSONL (here), CSV (`read_csv.py`),
one document per file (`read_documents.py`), Parquet and HuggingFace `datasets` Arrow
files (`read_tables.py`). JSONL, CSV and text files may be compressed with any codec
Beam detects by suffix (`decompress.py`).

The readers never raise on bad content, and one bad record never costs another: each
line (CSV: record; Parquet, Arrow: row) is parsed on its own (any exception,
RecursionError included, rejects that record as `error:<Type>`) and reading goes on
with the next. What counts as one input:

- a non-blank JSONL line (whitespace-only lines are not examples; a UTF-8 BOM at the
  start of a line is dropped), a CSV record, a Parquet or Arrow row, a text file;
- an empty or unopenable file;
- the rest of a file that cannot be read further. A transient read error is retried
  once from the same byte; a damaged or truncated compressed stream, a second read
  error or a compressed file expanding past `read.max_decompressed_bytes` (or
  `read.max_expansion_ratio` times its size) leaves a rest that
  cannot be decompressed, so its lines cannot be counted: it is one rejection. A
  Parquet row group that cannot be decoded costs one rejection per row (the footer
  says how many); a Parquet file without a readable footer is one rejection.

Text and ids that UTF-8 cannot encode (a JSON-escaped lone surrogate, `"\\ud800"`) are
rejected here as `invalid_unicode`, so no later stage ever meets one; metadata keeps
them, escaped, in `original`. Ids with control characters, containers as ids or ids
over `read.max_id_chars` are `invalid_id`. Nesting deeper than
`read.max_nesting_depth` is `nesting_too_deep`, checked before parsing.

Default ids are `<file id>:<line>` (Parquet, Arrow: `<file id>:<row>`; a text file: the
file id), the file id being the file's path relative to its source's root, so they do
not depend on where the corpus lies; `original.file` is that file id too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import IO

from polymix.transforms.example import Example
from polymix.transforms.failures import failed
from polymix.transforms.read_csv import read_csv
from polymix.transforms.read_documents import read_document
from polymix.transforms.read_objects import (
    STAGE,
    Item,
    Opener,
    Reader,
    TextSourceSpec,
    example_from_object,
    file_rejection,
    rejection,
)
from polymix.transforms.read_streams import clean_error, open_stream, rest_rejection
from polymix.transforms.read_tables import read_hf_arrow, read_parquet
from polymix.transforms.text_stream import Line, LineSplitter, StreamStopped

__all__ = [
    "READERS",
    "STAGE",
    "Item",
    "TextSourceSpec",
    "example_from_object",
    "nesting_exceeds",
    "parse_line",
    "read_text_file",
]

BOM = b"\xef\xbb\xbf"


_BRACKETS = re.compile(r"[\[\]{}]")


def _outside_strings(text: str) -> str:
    """The JSON text without its string literals, in a few C-speed passes.

    Escapes are read left to right as JSON reads them: escaped backslashes go first, then
    escaped quotes, so every quote left delimits a string.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    return "".join(unescaped.split('"')[0::2])


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when the JSON text nests deeper than `limit`; brackets inside strings do not count."""
    if text.count("[") + text.count("{") <= limit:
        return False
    structure = _outside_strings(text)
    if structure.count("[") + structure.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.finditer(structure):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def parse_line(spec: TextSourceSpec, line: Line, file_id: str) -> Item | None:
    """One JSONL line → an example, a rejection, or None for a blank line."""
    default_id = f"{file_id}:{line.number}"
    position = {"file": file_id, "line": line.number}
    limits = spec.limits
    if line.too_long:
        prefix = line.data.decode("utf-8", "replace")
        detail = f"{line.size} bytes > read.max_line_bytes {limits.max_line_bytes}"
        original = {**position, "bytes": line.size, "raw_prefix": prefix}
        return rejection(spec, default_id, original, "line_too_long", detail)
    data = line.data[len(BOM) :] if line.data.startswith(BOM) else line.data
    if not data or data.isspace():
        return None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        original = {**position, "raw_base64": base64.b64encode(data).decode("ascii")}
        return rejection(spec, default_id, original, "invalid_utf8", str(exc))
    del data
    if nesting_exceeds(decoded, limits.max_nesting_depth):
        detail = f"nests deeper than read.max_nesting_depth {limits.max_nesting_depth}"
        return rejection(spec, default_id, {**position, "raw": decoded}, "nesting_too_deep", detail)
    try:
        obj = json.loads(decoded)
    except ValueError as exc:
        original = {**position, "raw": decoded.rstrip("\r\n")}
        return rejection(spec, default_id, original, "invalid_json", str(exc))
    return example_from_object(spec, obj, default_id, file_id, {"line": line.number})


def _isolated_line(spec: TextSourceSpec, line: Line, file_id: str) -> Item | None:
    try:
        return parse_line(spec, line, file_id)
    except Exception as exc:  # one line's failure is that line's rejection, never the file's
        example = Example(
            spec.name,
            f"{file_id}:{line.number}",
            spec.modality,
            original={"file": file_id, "line": line.number, "bytes": line.size},
        )
        return failed(example, STAGE, exc)


def read_jsonl(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """Line by line; the rest of a file that cannot be read further is one rejection."""
    stream = open_stream(spec.limits, raw, open_file, path)
    splitter = LineSplitter(spec.limits.max_line_bytes, spec.limits.rejected_prefix_bytes)
    examples = 0
    try:
        for line in splitter.lines(stream.chunks()):
            item = _isolated_line(spec, line, file_id)
            if item is not None:
                examples += 1
                yield item
    except StreamStopped as stop:
        yield rest_rejection(spec, stop, stream, splitter.number + 1, path, file_id)
        return
    if examples == 0:
        yield file_rejection(spec, file_id, "empty_file", "no examples in file")


def read_warc(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    from polymix.transforms.web.warc import read_warc as read_web_archive

    yield from read_web_archive(spec, raw, path, file_id)


# Format name → reader. A reader yields every input of one file (an `Example` or a
# `Rejection`) and never raises on bad content; `open_file` may be called again to
# resume after a read error.
READERS: dict[str, Reader] = {
    "csv": read_csv,
    "hf_arrow": read_hf_arrow,
    "text": read_document,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "warc": read_warc,
}


def read_text_file(
    spec: TextSourceSpec, open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """All examples of one file; `file_id` (path relative to its source's root) makes ids stable.

    `open_file` may be called again to resume after a read error.
    """
    try:
        raw = open_file()
    except Exception as exc:
        yield file_rejection(spec, file_id, "unreadable_file", clean_error(exc, path, file_id))
        return
    with raw:
        try:
            yield from READERS[spec.format](spec, raw, open_file, path, file_id)
        except Exception as exc:  # a defect of the reader itself: the rest, as one input
            example = Example(
                spec.name, f"{file_id}:rest", spec.modality, original={"file": file_id}
            )
            yield failed(example, STAGE, exc)
