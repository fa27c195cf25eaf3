"""`format: csv`, checked against the standard library's own `csv` writer and reader."""

import bz2
import csv
import gzip
import io
import lzma
from pathlib import Path

import matplotlib
import pytest

from polymix.core.config.read import ReadConfig
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

SPEC = TextSourceSpec("rows", "text", "csv", text_field="body", id_field="id")
# A real CSV nobody here wrote.
MSFT = Path(matplotlib.get_data_path()) / "sample_data" / "msft.csv"


def read(data: bytes, path: str = "t/rows.csv", spec: TextSourceSpec = SPEC) -> list:
    return list(read_text_file(spec, lambda: io.BytesIO(data), path, path))


def written(rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode()


AWKWARD = [
    ["id", "body", "url"],
    ["a", "one line", "http://x/a"],
    ["b", "two\nlines, with a comma", "http://x/b"],
    ["c", 'a "quoted" word\r\nand a CRLF inside', "http://x/c"],
    ["d", "", "http://x/d"],
    ["e", 'ünïcödé 終わり, ""', "http://x/e"],
    ["f", 'ends with a quote"', 'q"x'],
]


def test_a_real_csv_reads_as_the_standard_library_reads_it():
    spec = TextSourceSpec("msft", "text", "csv", text_field="Date")
    items = read(MSFT.read_bytes(), "msft.csv", spec)
    with MSFT.open(newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert [e.text for e in items] == [row["Date"] for row in expected]
    assert items[0].original_object()["Adj. Close*"] == expected[0]["Adj. Close*"]
    assert items[0].id == "msft.csv:2"  # the header is line 1


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_quoted_newlines_quotes_and_delimiters_read_as_csv_wrote_them(delimiter):
    spec = TextSourceSpec("rows", "text", "csv", text_field="body", delimiter=delimiter)
    items = read(written(AWKWARD, delimiter), spec=spec)
    assert [(e.text, e.original_object()["url"]) for e in items] == [
        (row[1], row[2]) for row in AWKWARD[1:]
    ]
    # ids are the line each record starts on, newlines inside quotes counted
    assert [e.id.rsplit(":", 1)[1] for e in items] == ["2", "3", "5", "7", "8", "9"]


def test_a_malformed_row_is_one_rejection_and_the_next_row_is_read():
    data = (
        b'id,body\na,fine\nb,too,many,fields\nc,"an unclosed quote\n" tail,x\nd,\xe9\ne,also fine\n'
    )
    items = read(data)
    kinds = [(i.reason, i.example.id) if isinstance(i, Rejection) else i.id for i in items]
    assert kinds == [
        "a",
        ("malformed_row", "t/rows.csv:3"),
        ("malformed_row", "t/rows.csv:4"),  # the quoted field joined two lines
        ("invalid_utf8", "t/rows.csv:6"),
        "e",
    ]


def test_a_file_ending_inside_a_quoted_field_rejects_that_record_only():
    items = read(b'id,body\na,fine\nb,"never closed\nand more\n')
    assert isinstance(items[0], Example)
    assert [i.reason for i in items[1:]] == ["malformed_row"]


def test_a_record_over_the_line_limit_is_rejected_and_fields_up_to_it_are_kept():
    limits = ReadConfig(max_line_bytes=200_000)
    spec = TextSourceSpec("rows", "text", "csv", text_field="body", limits=limits)
    big = "w" * 150_000  # over csv's default field size limit of 131072
    data = written([["id", "body"], ["a", big], ["b", "x" * 250_000], ["c", "after"]])
    items = read(data, spec=spec)
    assert items[0].text == big
    assert items[1].reason == "line_too_long" and items[1].example.id == "t/rows.csv:3"
    assert items[2].text == "after"


def test_a_quoted_field_spanning_too_many_lines_does_not_swallow_the_file():
    limits = ReadConfig(max_line_bytes=10_000)
    spec = TextSourceSpec("rows", "text", "csv", text_field="body", limits=limits)
    long_quoted = "\n".join(["line"] * 5000)  # 25 kB of short lines inside one field
    items = read(written([["id", "body"], ["a", long_quoted], ["b", "next"]]), spec=spec)
    assert [i.reason if isinstance(i, Rejection) else i.text for i in items] == [
        "line_too_long",
        "next",
    ]


def test_header_names_with_dots_are_literal_and_a_bad_header_is_one_rejection():
    spec = TextSourceSpec("rows", "text", "csv", text_field="meta.body")
    (item,) = read(b"meta.body,meta\nhello,x\n", spec=spec)
    assert item.text == "hello"
    (rejected,) = read(b"id,body,body\na,b,c\n")
    assert rejected.reason == "invalid_header" and "body" in rejected.detail
    (empty,) = read(b"id,body\n\n")
    assert empty.reason == "empty_file"


def test_a_bom_before_the_header_is_not_part_of_the_first_name():
    (item,) = read(b"\xef\xbb\xbfbody,id\nhi,z\n")
    assert item.text == "hi" and item.id == "z"


@pytest.mark.parametrize("suffix, compress", [("gz", gzip.compress), ("xz", lzma.compress)])
def test_compressed_csv_reads_the_same_and_a_cut_file_counts_its_rest_once(suffix, compress):
    rows = [["id", "body"]] + [[f"r{i}", f"row {i}\nsecond line"] for i in range(20_000)]
    whole = compress(written(rows))
    assert [e.id for e in read(whole, f"t.csv.{suffix}")] == [r[0] for r in rows[1:]]
    *kept, rest = read(whole[: len(whole) // 2], f"t.csv.{suffix}")
    assert all(isinstance(e, Example) for e in kept) and len(kept) > 1000
    assert [e.id for e in kept] == [r[0] for r in rows[1 : len(kept) + 1]]
    assert rest.reason == "unreadable_file" and rest.example.id.endswith("+")


@pytest.mark.parametrize("suffix, compress", [("csv", lambda b: b), ("csv.bz2", bz2.compress)])
def test_a_read_error_midway_is_retried_and_loses_no_record(suffix, compress):
    from tests.transforms.test_read_text import FailingOnce

    rows = [["id", "body"]] + [[f"r{i}", f"row {i}\nsecond line"] for i in range(5000)]
    data = compress(written(rows))
    FailingOnce.opened = 0
    opener = lambda: FailingOnce(data, len(data) // 2)  # noqa: E731
    items = list(read_text_file(SPEC, opener, f"t.{suffix}", f"t.{suffix}"))
    assert [i.id for i in items] == [r[0] for r in rows[1:]]
    assert FailingOnce.opened == 2
