import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

SPEC = TextSourceSpec("web", "text", "jsonl", text_field="text", id_field="id")


def read(data: bytes, path: str = "f.jsonl", spec: TextSourceSpec = SPEC):
    return list(read_text_file(spec, lambda: io.BytesIO(data), path, path))


def lines(*objs) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


@pytest.mark.parametrize(
    "path, compress",
    [
        ("f.jsonl", lambda b: b),
        ("f.jsonl.gz", gzip.compress),
        ("f.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_jsonl_in_every_compression_gives_the_same_examples(path, compress):
    items = read(compress(lines({"id": "a", "text": "one"}, {"id": "b", "text": "two"})), path)
    assert [(e.id, e.text) for e in items] == [("a", "one"), ("b", "two")]


def test_every_bad_line_becomes_one_rejection_with_a_reason():
    data = lines(
        {"id": "ok", "text": "fine"},
        b'{"id": "broken", "text": "unterminated',
        b'{"text": "caf\xe9"}',
        {"id": "nt", "body": "x"},
        [1, 2],
        {"id": "num", "text": 3},
        {"id": "none", "text": None},
    )
    items = read(data)
    reasons = [i.reason for i in items if isinstance(i, Rejection)]
    assert reasons == [
        "invalid_json",
        "invalid_utf8",
        "missing_text_field",
        "not_an_object",
        "text_not_a_string",
        "missing_text_field",
    ]
    assert len(items) == 7
    bad_utf8 = items[2]
    assert bad_utf8.example.original["raw_base64"]  # the raw bytes survive for inspection


def test_blank_lines_are_not_examples_but_an_empty_file_is_accounted_for():
    assert [e.id for e in read(b"\n\n" + lines({"id": "a", "text": "x"}) + b"\n")] == ["a"]
    (rejection,) = read(b"")
    assert rejection.reason == "empty_file" and rejection.stage == "read"


def test_default_ids_come_from_file_and_line_so_reruns_agree():
    spec = TextSourceSpec("web", "text", "jsonl")
    first = [e.id for e in read(lines({"text": "a"}, {"text": "b"}), "dir/f.jsonl", spec)]
    assert first == ["dir/f.jsonl:1", "dir/f.jsonl:2"]
    assert first == [e.id for e in read(lines({"text": "a"}, {"text": "b"}), "dir/f.jsonl", spec)]


def test_corrupt_archive_keeps_what_was_read_and_rejects_the_rest():
    items = read(b"not gzip at all", "f.jsonl.gz")
    assert [(type(i), i.reason) for i in items] == [(Rejection, "unreadable_file")]


def test_unopenable_file_is_a_rejection_not_a_crash():
    def fail():
        raise PermissionError("denied")

    (item,) = list(read_text_file(SPEC, fail, "f.jsonl", "f.jsonl"))
    assert item.reason == "unreadable_file" and "denied" in item.detail


def test_parquet_rows_with_custom_fields():
    spec = TextSourceSpec("books", "text", "parquet", text_field="content", id_field="book_id")
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_pylist(
            [{"book_id": "b1", "content": "A"}, {"book_id": "b2", "content": None}]
        ),
        buffer,
    )
    items = read(buffer.getvalue(), "b.parquet", spec)
    assert isinstance(items[0], Example) and items[0].id == "b1" and items[0].text == "A"
    assert isinstance(items[1], Rejection) and items[1].reason == "missing_text_field"
    assert read(b"PAR1garbage", "c.parquet", spec)[0].reason == "unreadable_file"


def test_error_details_in_side_outputs_carry_no_process_addresses():
    from polymix.transforms.side_records import rejection_line

    example = Example("audio", "a.wav", "audio")
    line = rejection_line(
        Rejection(example, "decode", "bad", "Error opening <_io.BytesIO object at 0x7f0c23167ce0>")
    )
    assert b"0x7f" not in line and b"<_io.BytesIO object>" in line
