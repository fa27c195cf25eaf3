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
        ("f.jsonl.gz", lambda b: gzip.compress(b[:7]) + gzip.compress(b[7:]) + b"\0" * 9),
        (
            "f.jsonl.zst",
            lambda b: b"".join(zstandard.ZstdCompressor().compress(p) for p in (b[:7], b[7:])),
        ),
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
    assert bad_utf8.example.original_object()["raw_base64"]  # the raw bytes survive for inspection


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


# --- hostile input: every line is one outcome, and nothing after it is lost ---------------


def label(item) -> str:
    return item.reason if isinstance(item, Rejection) else item.id


def ok_line(i: int) -> bytes:
    return json.dumps({"id": f"ok{i}", "text": f"document {i}"}).encode()


def test_lone_surrogates_in_text_or_id_are_rejected_and_metadata_keeps_them_escaped():
    data = lines(
        b'{"id": "t", "text": "half an emoji \\ud83d here"}',
        b'{"id": "\\udc80", "text": "fine text"}',
        b'{"id": "m", "text": "fine text", "title": "\\ud800", "\\udfff": 1}',
        ok_line(1),
    )
    items = read(data)
    assert [(type(i).__name__, getattr(i, "reason", "")) for i in items] == [
        ("Rejection", "invalid_unicode"),
        ("Rejection", "invalid_unicode"),
        ("Example", ""),
        ("Example", ""),
    ]
    assert items[1].example.id == "f.jsonl:2"  # the unusable id is not carried on
    for item in items:
        example = item.example if isinstance(item, Rejection) else item
        for value in (example.id, example.text or "", example.original):
            value.encode("utf-8")  # nothing downstream meets an unencodable string
    assert items[2].original_object() == {"id": "m", "title": "\ud800", "\udfff": 1}


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_line_is_one_rejection_and_the_next_line_is_read(depth):
    deep = b'{"id": "deep", "text": "x", "meta": ' + b"[" * depth + b"]" * depth + b"}"
    items = read(lines(ok_line(1), deep, ok_line(2), ok_line(3)))
    assert [label(i) for i in items] == ["ok1", "nesting_too_deep", "ok2", "ok3"]
    assert "max_nesting_depth" in items[1].detail


def test_nesting_depth_ignores_brackets_inside_strings():
    text = json.dumps({"id": "s", "text": "[" * 5000 + "{" * 5000, "meta": [[[1]]]})
    (item,) = read(text.encode() + b"\n")
    assert isinstance(item, Example) and item.text.startswith("[[[")


def test_metadata_a_few_hundred_levels_deep_is_kept_as_flat_json_text():
    meta = b"[" * 300 + b"]" * 300
    (item,) = read(b'{"id": "d", "text": "x", "meta": ' + meta + b"}\n")
    assert isinstance(item, Example)
    assert isinstance(item.original, str) and item.original.endswith("]]]}")


def test_a_utf8_bom_is_not_part_of_the_first_document():
    items = read(b"\xef\xbb\xbf" + lines(ok_line(1), ok_line(2)))
    assert [i.id for i in items] == ["ok1", "ok2"]


class FailingOnce(io.BytesIO):
    """A file whose first read stream breaks after `at` bytes, as a flaky disk or network does."""

    opened = 0

    def __init__(self, data: bytes, at: int, fail_always: bool = False):
        super().__init__(data)
        FailingOnce.opened += 1
        self.at = at if (FailingOnce.opened == 1 or fail_always) else None

    def read(self, size=-1):
        if self.at is not None and self.tell() + (size if size > 0 else 1 << 30) > self.at:
            if self.tell() >= self.at:
                raise OSError("connection reset by peer")
            size = self.at - self.tell()
        return super().read(size)


@pytest.mark.parametrize(
    "path, compress", [("f.jsonl", lambda b: b), ("f.jsonl.gz", gzip.compress)]
)
def test_a_read_error_midway_is_retried_from_the_same_byte_and_loses_nothing(path, compress):
    data = compress(lines(*(ok_line(i) for i in range(5000))))
    FailingOnce.opened = 0
    items = list(read_text_file(SPEC, lambda: FailingOnce(data, len(data) // 2), path, path))
    assert [i.id for i in items] == [f"ok{i}" for i in range(5000)]
    assert FailingOnce.opened == 2


def test_a_persistent_read_error_keeps_what_was_read_and_counts_the_rest_once():
    data = lines(*(ok_line(i) for i in range(5000)))
    FailingOnce.opened = 0
    opener = lambda: FailingOnce(data, len(data) // 2, fail_always=True)  # noqa: E731
    items = list(read_text_file(SPEC, opener, "f.jsonl", "f.jsonl"))
    *examples, rest = items
    assert all(isinstance(e, Example) for e in examples) and len(examples) > 1000
    assert rest.reason == "unreadable_file" and "twice" in rest.detail
    assert rest.example.id == f"f.jsonl:{len(examples) + 1}+"


def test_a_truncated_gzip_keeps_every_line_decompressed_before_the_cut():
    import zlib

    data = gzip.compress(lines(*(ok_line(i) for i in range(20000))))
    cut = data[: len(data) // 2]
    recoverable = zlib.decompressobj(31).decompress(cut)
    *examples, rest = read(cut, "f.jsonl.gz")
    assert len(examples) == recoverable.count(b"\n")
    assert rest.reason == "unreadable_file" and "truncated" in rest.detail


def test_a_truncated_zstd_file_is_detected_not_taken_as_the_end():
    data = zstandard.ZstdCompressor().compress(lines(*(ok_line(i) for i in range(20000))))
    items = read(data[: len(data) // 2], "f.jsonl.zst")
    assert items[-1].reason == "unreadable_file" and "truncated" in items[-1].detail
    assert all(isinstance(i, Example) for i in items[:-1]) and len(items) > 100


def test_a_line_over_the_limit_is_rejected_with_its_size_and_only_a_prefix_is_kept():
    from polymix.core.config.read import ReadConfig

    limits = ReadConfig(max_line_bytes=4096, rejected_prefix_bytes=100)
    spec = TextSourceSpec("web", "text", "jsonl", id_field="id", limits=limits)
    long_line = json.dumps({"id": "long", "text": "y" * 1_000_000}).encode()
    items = read(lines(ok_line(1), long_line, ok_line(2)), spec=spec)
    assert [label(i) for i in items] == ["ok1", "line_too_long", "ok2"]
    rejected = items[1]
    assert str(len(long_line)) in rejected.detail and "read.max_line_bytes" in rejected.detail
    assert len(rejected.example.original_object()["raw_prefix"]) == 100


def test_a_decompression_bomb_stops_at_the_limit_and_its_rest_is_one_rejection():
    from polymix.core.config.read import ReadConfig

    line = json.dumps({"text": "a" * 100_000}).encode() + b"\n"
    member = gzip.compress(line * 100)  # 10 MB of lines in ~10 KB
    bomb = member * 20  # 200 MB once decompressed, 20,000x its size
    limits = ReadConfig(max_decompressed_bytes=5 * 2**20, max_expansion_ratio=0)
    spec = TextSourceSpec("web", "text", "jsonl", limits=limits)
    *examples, rest = read(bomb, "f.jsonl.gz", spec)
    assert len(examples) == 5 * 2**20 // len(line)  # every line that ends within the limit
    assert rest.reason == "decompressed_too_large" and "read.max_decompressed_bytes" in rest.detail
    assert rest.example.id == f"f.jsonl.gz:{len(examples) + 1}+"
    default = TextSourceSpec("web", "text", "jsonl")  # 50x its size, but always 64 MiB
    *examples, rest = read(bomb, "f.jsonl.gz", default)
    assert len(examples) == 64 * 2**20 // len(line)
    assert rest.reason == "decompressed_too_large" and "read.max_expansion_ratio" in rest.detail


def test_text_over_the_limit_is_rejected_and_keeps_a_prefix():
    from polymix.core.config.read import ReadConfig

    spec = TextSourceSpec(
        "web", "text", "jsonl", limits=ReadConfig(max_text_chars=1000, rejected_prefix_bytes=10)
    )
    (item,) = read(lines({"text": "z" * 5000, "url": "u"}), spec=spec)
    assert item.reason == "text_too_long" and "5000" in item.detail
    assert item.example.text == "z" * 10
    assert item.example.original_object()["raw"] == {"url": "u"}


def test_bad_ids_fall_back_to_the_position_and_are_rejected():
    data = lines(
        {"id": {"a": 1}, "text": "x"}, {"id": "a\x00b", "text": "x"}, {"id": 7, "text": "x"}
    )
    items = read(data)
    assert [label(i) for i in items] == ["invalid_id", "invalid_id", "7"]
    assert items[0].example.id == "f.jsonl:1"


def _parquet(tables: list[list[dict]]) -> bytes:
    buffer = io.BytesIO()
    writer = None
    for rows in tables:
        table = pa.Table.from_pylist(rows)
        writer = writer or pq.ParquetWriter(buffer, table.schema, compression="none")
        writer.write_table(table)
    writer.close()
    return buffer.getvalue()


def test_a_damaged_parquet_row_group_rejects_each_of_its_rows_and_reading_goes_on():
    spec = TextSourceSpec("books", "text", "parquet", text_field="content")
    groups = [[{"content": f"row {g}-{r} " * 20} for r in range(50)] for g in range(3)]
    data = bytearray(_parquet(groups))
    middle = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(1).column(0)
    start = middle.data_page_offset
    data[start : start + 64] = b"\xff" * 64  # the page header of the middle group
    items = read(bytes(data), "b.parquet", spec)
    assert len(items) == 150
    assert [i.reason for i in items[50:100]] == ["unreadable_row"] * 50
    assert all(isinstance(i, Example) for i in items[:50] + items[100:])


def test_parquet_without_the_text_column_rejects_each_row():
    spec = TextSourceSpec("books", "text", "parquet", text_field="content")
    items = read(_parquet([[{"title": "a"}, {"title": "b"}]]), "b.parquet", spec)
    assert [i.reason for i in items] == ["missing_text_field", "missing_text_field"]


def test_a_line_over_the_limit_is_never_held_in_memory():
    import tracemalloc

    from polymix.core.config.read import ReadConfig

    limits = ReadConfig(max_line_bytes=1 << 20)
    spec = TextSourceSpec("web", "text", "jsonl", id_field="id", limits=limits)
    huge = b'{"id": "huge", "text": "' + b"z" * (50 << 20) + b'"}'
    data = gzip.compress(lines(ok_line(1), huge, ok_line(2)), 1)
    del huge
    tracemalloc.start()
    items = read(data, "f.jsonl.gz", spec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [label(i) for i in items] == ["ok1", "line_too_long", "ok2"]
    assert peak < 8 * limits.max_line_bytes  # the line is 50x the limit


def test_nesting_depth_reads_escapes_as_json_does():
    from polymix.transforms.read_text import nesting_exceeds

    escaped = json.dumps({"t": 'a quote " then [[[ and a backslash \\', "m": [[1]]})
    assert not nesting_exceeds(escaped, 3) and nesting_exceeds(escaped, 2)  # {, [, [
    inside = json.dumps({"t": "[" * 1000 + '\\"' + "{" * 1000})
    assert not nesting_exceeds(inside, 400)
    deep = '{"t": "\\\\", "m": ' + "[" * 450 + "]" * 450 + "}"
    assert nesting_exceeds(deep, 400) and not nesting_exceeds(deep, 451)
