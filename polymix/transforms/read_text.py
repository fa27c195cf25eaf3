"""Parse JSONL and Parquet files into `Example`s, turning every defect into a `Rejection`.

The reader never raises on bad content, and one bad line never costs another: each
line is parsed on its own (any exception, RecursionError included, rejects that line
as `error:<Type>`) and reading goes on with the next. What counts as one input:

- a non-blank JSONL line (whitespace-only lines are not examples; a UTF-8 BOM at the
  start of a line is dropped), or a Parquet row;
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

Default ids are `<file id>:<line>` (Parquet: `<file id>:<row>`), the file id being the
file's path relative to its source's root, so they do not depend on where the corpus
lies; `original.file` is that file id too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from polymix.core.config.read import ReadConfig
from polymix.transforms.example import Example, Rejection, original_json
from polymix.transforms.failures import failed
from polymix.transforms.text_stream import (
    DECOMPRESSORS,
    CorruptStream,
    DecompressedTooLarge,
    Line,
    LineSplitter,
    compression_of,
    skip_bytes,
)
from polymix.transforms.unicode_safety import has_control_characters, is_encodable

STAGE = "read"
BOM = b"\xef\xbb\xbf"
PARQUET_BATCH_ROWS = 256
PARQUET_READ_BUFFER = 1 << 20
UNBOUNDED = 1 << 62

Item = Example | Rejection
Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class TextSourceSpec:
    """What the reader needs to know about a source (a slice of its config)."""

    name: str
    modality: str
    format: str
    text_field: str = "text"
    id_field: str | None = None
    limits: ReadConfig = field(default_factory=ReadConfig)
    web: Any = None  # format warc: a `polymix.core.config.web.WebSourceConfig`


def _rejection(
    spec: TextSourceSpec,
    example_id: str,
    original: dict[str, Any],
    reason: str,
    detail: str = "",
    text: str | None = None,
) -> Rejection:
    example = Example(spec.name, example_id, spec.modality, text=text, original=original)
    return Rejection(example, STAGE, reason, detail)


def _file_rejection(
    spec: TextSourceSpec, file_id: str, reason: str, detail: str, **where: Any
) -> Rejection:
    suffix = f"{where['from_line']}+" if "from_line" in where else "file"
    return _rejection(spec, f"{file_id}:{suffix}", {"file": file_id, **where}, reason, detail)


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


def _example_id(
    spec: TextSourceSpec, obj: dict[str, Any], default_id: str
) -> tuple[str, tuple[str, str] | None]:
    """(id, None) or (default id, (reason, detail)) when the id field holds no usable id."""
    value = obj.get(spec.id_field) if spec.id_field is not None else None
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
    return _rejection(spec, example_id, {"file": file_id, **where, "raw": obj}, *why)


def example_from_object(
    spec: TextSourceSpec, obj: Any, default_id: str, file_id: str, where: dict[str, int]
) -> Item:
    """Validate one decoded object: a mapping with a usable id and an encodable string text.

    On success `obj` loses its text field, which travels once, in `text`; `original`
    keeps the other fields (url, title, ...).
    """
    if not isinstance(obj, dict):
        return _rejected_object(spec, default_id, obj, file_id, where, "not_an_object")
    example_id, problem = _example_id(spec, obj, default_id)
    if problem is not None:
        return _rejected_object(spec, example_id, obj, file_id, where, *problem)
    text = obj.get(spec.text_field)
    if not isinstance(text, str):
        reason = "missing_text_field" if text is None else "text_not_a_string"
        return _rejected_object(spec, example_id, obj, file_id, where, reason)
    if not is_encodable(text):
        detail = f"{spec.text_field} holds a lone surrogate"
        return _rejected_object(spec, example_id, obj, file_id, where, "invalid_unicode", detail)
    del obj[spec.text_field]
    limit = spec.limits.max_text_chars
    if len(text) > limit:
        detail = f"{len(text)} characters > read.max_text_chars {limit}"
        original = {"file": file_id, **where, "raw": obj, "text_chars": len(text)}
        prefix = text[: spec.limits.rejected_prefix_bytes]
        return _rejection(spec, example_id, original, "text_too_long", detail, text=prefix)
    return Example(spec.name, example_id, spec.modality, text=text, original=original_json(obj))


def parse_line(spec: TextSourceSpec, line: Line, file_id: str) -> Item | None:
    """One JSONL line → an example, a rejection, or None for a blank line."""
    default_id = f"{file_id}:{line.number}"
    position = {"file": file_id, "line": line.number}
    limits = spec.limits
    if line.too_long:
        prefix = line.data.decode("utf-8", "replace")
        detail = f"{line.size} bytes > read.max_line_bytes {limits.max_line_bytes}"
        original = {**position, "bytes": line.size, "raw_prefix": prefix}
        return _rejection(spec, default_id, original, "line_too_long", detail)
    data = line.data[len(BOM) :] if line.data.startswith(BOM) else line.data
    if not data or data.isspace():
        return None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        original = {**position, "raw_base64": base64.b64encode(data).decode("ascii")}
        return _rejection(spec, default_id, original, "invalid_utf8", str(exc))
    del data
    if nesting_exceeds(decoded, limits.max_nesting_depth):
        detail = f"nests deeper than read.max_nesting_depth {limits.max_nesting_depth}"
        return _rejection(
            spec, default_id, {**position, "raw": decoded}, "nesting_too_deep", detail
        )
    try:
        obj = json.loads(decoded)
    except ValueError as exc:
        original = {**position, "raw": decoded.rstrip("\r\n")}
        return _rejection(spec, default_id, original, "invalid_json", str(exc))
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


def _stream_size(raw: IO[bytes]) -> int | None:
    try:
        start = raw.tell()
        end = raw.seek(0, 2)
        raw.seek(start)
        return end - start
    except Exception:
        return None


class _JsonlFile:
    """One JSONL file's lines, resuming once after a read error, bounded by `read.*`."""

    def __init__(
        self, spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
    ) -> None:
        self.spec, self.raw, self.open_file = spec, raw, open_file
        self.path, self.file_id = path, file_id
        self.compression = compression_of(path)
        limits = spec.limits
        allowed = UNBOUNDED  # a plain file holds what it holds: it streams, nothing expands
        if self.compression != "none":
            allowed = limits.expansion_limit(_stream_size(raw))
        self.splitter = LineSplitter(limits.max_line_bytes, limits.rejected_prefix_bytes, allowed)
        self.examples = 0
        self.reopened: IO[bytes] | None = None

    def items(self) -> Iterator[Item]:
        handle = self.raw
        try:
            yield from self._lines_resuming_once(handle)
        finally:
            if self.reopened is not None:
                self.reopened.close()

    def _lines_resuming_once(self, handle: IO[bytes]) -> Iterator[Item]:
        while True:
            chunks = DECOMPRESSORS[self.compression](handle.read)
            try:
                for line in self.splitter.lines(skip_bytes(chunks, self.splitter.consumed)):
                    item = _isolated_line(self.spec, line, self.file_id)
                    if item is not None:
                        self.examples += 1
                        yield item
                break
            except DecompressedTooLarge as exc:
                yield self._rest("decompressed_too_large", self._too_large(exc.allowed))
                return
            except CorruptStream as exc:
                yield self._rest("unreadable_file", str(exc))
                return
            except Exception as exc:  # reading failed: try once more from the same byte
                if self.reopened is not None:
                    yield self._rest("unreadable_file", f"read failed twice: {self._clean(exc)}")
                    return
                try:
                    handle = self.reopened = self.open_file()
                except Exception as again:
                    yield self._rest("unreadable_file", f"cannot reopen: {self._clean(again)}")
                    return
        if self.examples == 0:
            yield _file_rejection(self.spec, self.file_id, "empty_file", "no examples in file")

    def _too_large(self, allowed: int) -> str:
        limits = self.spec.limits
        keys = "read.max_decompressed_bytes"
        if allowed < limits.max_decompressed_bytes:
            keys = "read.max_expansion_ratio"
        return f"expands past {allowed} bytes ({keys}); the rest is not decompressed"

    def _clean(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}".replace(self.path, self.file_id)

    def _rest(self, reason: str, detail: str) -> Rejection:
        """The part of the file that cannot be read: one input, since its lines cannot be counted."""
        first = self.splitter.number + 1
        detail = f"from line {first} (byte {self.splitter.consumed} decompressed): {detail}"
        return _file_rejection(self.spec, self.file_id, reason, detail, from_line=first)


def read_jsonl(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    return _JsonlFile(spec, raw, open_file, path, file_id).items()


def _row_rejections(
    spec: TextSourceSpec, file_id: str, rows: range, reason: str, detail: str
) -> Iterator[Rejection]:
    for row in rows:
        yield _rejection(spec, f"{file_id}:{row}", {"file": file_id, "row": row}, reason, detail)


def _row_group(
    spec: TextSourceSpec, table_file: Any, group: int, first_row: int, file_id: str
) -> Iterator[Item]:
    rows = table_file.metadata.row_group(group).num_rows
    done = 0
    try:
        for batch in table_file.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group]):
            for obj in batch.to_pylist():
                row = first_row + done
                yield _isolated_row(spec, obj, file_id, row)
                done += 1
    except Exception as exc:  # a damaged row group: its rows are known, so each is counted
        detail = f"row group {group}: {type(exc).__name__}: {exc}"
        yield from _row_rejections(
            spec, file_id, range(first_row + done, first_row + rows), "unreadable_row", detail
        )


def _isolated_row(spec: TextSourceSpec, obj: Any, file_id: str, row: int) -> Item:
    try:
        return example_from_object(spec, obj, f"{file_id}:{row}", file_id, {"row": row})
    except Exception as exc:
        example = Example(spec.name, f"{file_id}:{row}", spec.modality, original={"row": row})
        return failed(example, STAGE, exc)


def read_parquet(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """Row group by row group; a row group bigger than the file's allowance is not decoded."""
    import pyarrow.parquet as pq

    try:
        # Streamed column chunks (1 MiB reads, no pre-buffering): memory is one batch of rows
        # and a page per column, not a whole row group.
        table_file = pq.ParquetFile(raw, buffer_size=PARQUET_READ_BUFFER, pre_buffer=False)
        metadata = table_file.metadata
    except Exception as exc:  # no readable footer: the rows cannot even be counted
        detail = f"{type(exc).__name__}: {exc}".replace(path, file_id)
        yield _file_rejection(spec, file_id, "unreadable_file", detail)
        return
    row, spent = 0, 0
    allowance = spec.limits.max_decompressed_bytes
    for group in range(metadata.num_row_groups):
        info = metadata.row_group(group)
        rows = range(row, row + info.num_rows)
        if spent + info.total_byte_size > allowance:
            detail = (
                f"row group {group} of {info.total_byte_size} bytes passes "
                f"read.max_decompressed_bytes {allowance} for the file"
            )
            yield from _row_rejections(spec, file_id, rows, "decompressed_too_large", detail)
        else:
            spent += info.total_byte_size
            yield from _row_group(spec, table_file, group, row, file_id)
        row += info.num_rows
    if row == 0:
        yield _file_rejection(spec, file_id, "empty_file", "no rows in file")


def read_warc(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    from polymix.transforms.web.warc import read_warc as read_web_archive

    yield from read_web_archive(spec, raw, path, file_id)


READERS: dict[str, Callable[[TextSourceSpec, IO[bytes], Opener, str, str], Iterator[Item]]] = {
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
        detail = f"{type(exc).__name__}: {exc}".replace(path, file_id)
        yield _file_rejection(spec, file_id, "unreadable_file", detail)
        return
    with raw:
        try:
            yield from READERS[spec.format](spec, raw, open_file, path, file_id)
        except Exception as exc:  # a defect of the reader itself: the rest, as one input
            example = Example(
                spec.name, f"{file_id}:rest", spec.modality, original={"file": file_id}
            )
            yield failed(example, STAGE, exc)
