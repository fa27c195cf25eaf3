"""`format: csv`: a header row, then one example per record, every record parsed on its own.

    lines (`text_stream.LineSplitter`) ─► records (a quoted field may hold newlines) ─► csv.reader ─► row

Records are cut from the byte stream before the `csv` module sees them: a record goes on
to the next line while a quoted field is open, tracked with the `csv` reader's own
states (a quote opens a field only at its start, `""` inside one is a quote). The
delimiter and quote are ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so
this works on bytes; each record is decoded and parsed alone, with `csv.reader` and the
configured delimiter (Python's `excel` dialect otherwise). So one malformed record is one
`read/malformed_row` (a `csv` error, more or fewer fields than the header, or a quoted
field still open when the file ends, which `csv` itself would take as whole) and the
next record is read as if nothing happened.

Bounds: a record is at most `read.max_line_bytes` (joined lines; a longer one is
`read/line_too_long`, only its prefix kept while the rest streams by), and the `csv`
module's field size limit is raised to at least that, so no field is refused below it.
A single line over the limit ends its record whatever its quotes: what it held is not
kept, so a quoted field it opened is closed there.

Fields are the header's names, as written (a name with a dot, `meta.body`, is one
field). Default ids are `<file id>:<line>`, the line where the record starts (the header
is line 1). A header that cannot be read, or that names a field twice, leaves rows that
cannot be named: the file is one `read/invalid_header`. A file without rows is
`read/empty_file`; blank lines are not records.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Iterator
from typing import IO, NamedTuple

from polymix.transforms.example import Example
from polymix.transforms.failures import failed
from polymix.transforms.read_objects import (
    STAGE,
    Item,
    Opener,
    TextSourceSpec,
    example_from_object,
    file_rejection,
    rejection,
)
from polymix.transforms.read_streams import open_stream, rest_rejection
from polymix.transforms.text_stream import Line, LineSplitter, StreamStopped

BOM = b"\xef\xbb\xbf"
QUOTE = ord('"')
# csv reader states that matter for where a record ends
_START, _FIELD, _QUOTED, _QUOTE_IN_QUOTED = range(4)


class Record(NamedTuple):
    """One CSV record's bytes (lines joined by \\n); only a prefix when `too_long`."""

    line: int  # where it starts, 1-based
    data: bytes
    size: int
    too_long: bool = False
    unterminated: bool = False  # the file ended inside one of its quoted fields


def ends_quoted(line: bytes, quoted: bool, delimiter: int) -> bool:
    """Whether a quoted field is still open after `line` (given whether one was before it).

    Jumps from quote to quote inside quoted fields and from delimiter to delimiter
    outside them (`bytes.find`), so a line costs a few C-speed scans, not a loop per byte.
    """
    if QUOTE not in line:
        return quoted
    state, at, end = (_QUOTED if quoted else _START), 0, len(line)
    separator = bytes([delimiter])
    while at < end:
        if state == _QUOTED:
            at = line.find(b'"', at)
            if at < 0:
                return True
            state, at = _QUOTE_IN_QUOTED, at + 1
        elif state == _FIELD:  # a quote here is an ordinary character
            at = line.find(separator, at)
            if at < 0:
                return False
            state, at = _START, at + 1
        else:  # at the start of a field, or just after a closing quote
            byte = line[at]
            if byte == QUOTE:
                state = _QUOTED  # opens a field, or "" inside one
            elif byte == delimiter:
                state = _START
            else:
                state = _FIELD
            at += 1
    return state == _QUOTED


class RecordSplitter:
    """Lines in, records out; a record holds at most `max_bytes`, past it only a prefix."""

    def __init__(self, delimiter: str, max_bytes: int, prefix_bytes: int) -> None:
        self.delimiter = ord(delimiter)
        self.max_bytes = max_bytes
        self.prefix_bytes = prefix_bytes

    def records(self, lines: Iterator[Line]) -> Iterator[Record]:
        quoted = False
        start, size, pieces, too_long = 0, 0, [], False
        for line in lines:
            if not quoted:
                start, size, pieces, too_long = line.number, 0, [], False
            else:
                size += 1  # the newline inside the quoted field
            size += line.size
            if line.too_long or (not too_long and size > self.max_bytes):
                pieces = [b"\n".join([*pieces, line.data])[: self.prefix_bytes]]
                too_long = True
            elif not too_long:
                pieces.append(line.data)
            quoted = not line.too_long and ends_quoted(line.data, quoted, self.delimiter)
            if not quoted:
                yield Record(start, b"\n".join(pieces), size, too_long)
        if quoted:  # the file ends inside a quoted field (csv itself would take it as whole)
            yield Record(start, b"\n".join(pieces), size, too_long, unterminated=True)


def parse_record(data: bytes, delimiter: str) -> list[str]:
    """The fields of one record; raises UnicodeDecodeError or csv.Error."""
    rows = list(csv.reader([data.decode("utf-8")], delimiter=delimiter))
    if len(rows) != 1:
        raise csv.Error(f"{len(rows)} rows in one record")
    return rows[0]


def _header(spec: TextSourceSpec, record: Record, file_id: str) -> list[str] | Item:
    """The field names, or the file's one rejection."""
    if record.too_long:
        detail = f"header of {record.size} bytes > read.max_line_bytes"
        return file_rejection(spec, file_id, "invalid_header", detail)
    try:
        names = parse_record(record.data, spec.delimiter)
    except (UnicodeDecodeError, csv.Error) as exc:
        return file_rejection(spec, file_id, "invalid_header", f"{type(exc).__name__}: {exc}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        detail = f"the header names {repeated} more than once; rows cannot be told apart"
        return file_rejection(spec, file_id, "invalid_header", detail)
    return names


def parse_row(spec: TextSourceSpec, record: Record, header: list[str], file_id: str) -> Item:
    default_id = f"{file_id}:{record.line}"
    position = {"file": file_id, "line": record.line}
    if record.too_long:
        detail = f"record of {record.size} bytes > read.max_line_bytes {spec.limits.max_line_bytes}"
        original = {
            **position,
            "bytes": record.size,
            "raw_prefix": record.data.decode("utf-8", "replace"),
        }
        return rejection(spec, default_id, original, "line_too_long", detail)
    if record.unterminated:
        original = {**position, "raw": record.data.decode("utf-8", "replace")}
        detail = "the file ends inside a quoted field (a stray quote, or a cut file)"
        return rejection(spec, default_id, original, "malformed_row", detail)
    try:
        values = parse_record(record.data, spec.delimiter)
    except UnicodeDecodeError as exc:
        original = {**position, "raw_base64": base64.b64encode(record.data).decode("ascii")}
        return rejection(spec, default_id, original, "invalid_utf8", str(exc))
    except csv.Error as exc:
        original = {**position, "raw": record.data.decode("utf-8")}
        return rejection(spec, default_id, original, "malformed_row", str(exc))
    if len(values) != len(header):
        detail = f"{len(values)} fields; the header has {len(header)}"
        return rejection(spec, default_id, {**position, "raw": values}, "malformed_row", detail)
    obj = dict(zip(header, values, strict=True))
    return example_from_object(spec, obj, default_id, file_id, {"line": record.line})


def _isolated_row(spec: TextSourceSpec, record: Record, header: list[str], file_id: str) -> Item:
    try:
        return parse_row(spec, record, header, file_id)
    except Exception as exc:  # one record's failure is that record's rejection
        original = {"file": file_id, "line": record.line, "bytes": record.size}
        example = Example(spec.name, f"{file_id}:{record.line}", spec.modality, original=original)
        return failed(example, STAGE, exc)


def _without_bom(line: Line) -> Line:
    if line.number == 1 and line.data.startswith(BOM):
        return line._replace(data=line.data[len(BOM) :], size=line.size - len(BOM))
    return line


def read_csv(
    spec: TextSourceSpec, raw: IO[bytes], open_file: Opener, path: str, file_id: str
) -> Iterator[Item]:
    """The header, then record by record; the rest of a file that cannot be read is one rejection."""
    limits = spec.limits
    if csv.field_size_limit() < limits.max_line_bytes:
        csv.field_size_limit(limits.max_line_bytes)  # records are bounded before csv sees them
    stream = open_stream(limits, raw, open_file, path)
    splitter = LineSplitter(limits.max_line_bytes, limits.rejected_prefix_bytes)
    records = RecordSplitter(spec.delimiter, limits.max_line_bytes, limits.rejected_prefix_bytes)
    header: list[str] | None = None
    rows = 0
    try:
        lines = (_without_bom(line) for line in splitter.lines(stream.chunks()))
        for record in records.records(lines):
            if not record.too_long and (not record.data or record.data.isspace()):
                continue  # blank lines are not records
            if header is None:
                found = _header(spec, record, file_id)
                if not isinstance(found, list):
                    yield found
                    return
                header = found
                continue
            rows += 1
            yield _isolated_row(spec, record, header, file_id)
    except StreamStopped as stop:
        yield rest_rejection(spec, stop, stream, splitter.number + 1, path, file_id)
        return
    if rows == 0:
        yield file_rejection(spec, file_id, "empty_file", "no rows in file")
