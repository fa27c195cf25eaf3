"""HuggingFace `datasets` folders (written by `save_to_disk` itself), Parquet exports and
dotted field paths into nested records."""

import io
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymix.core.config.read import ReadConfig
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

ROWS = {
    "id": [f"doc{i}" for i in range(2500)],
    "meta": [{"body": f"text {i}", "lang": "en"} for i in range(2500)],
    "url": [f"http://x/{i}" for i in range(2500)],
}
ARROW = TextSourceSpec("hf", "text", "hf_arrow", text_field="meta.body", id_field="id")


def read_path(path: Path, spec: TextSourceSpec, file_id: str | None = None) -> list:
    return list(read_text_file(spec, lambda: path.open("rb"), str(path), file_id or path.name))


def read_bytes(data: bytes, spec: TextSourceSpec, path: str = "f") -> list:
    return list(read_text_file(spec, lambda: io.BytesIO(data), path, path))


def test_a_saved_dataset_reads_every_row_with_nested_fields(tmp_path):
    datasets.Dataset.from_dict(ROWS).save_to_disk(tmp_path / "wiki", num_shards=2)
    files = sorted((tmp_path / "wiki").glob("*.arrow"))
    assert [f.name for f in files] == ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]
    items = [item for f in files for item in read_path(f, ARROW)]
    assert all(isinstance(i, Example) for i in items)
    assert [(e.id, e.text) for e in items] == [
        (i, m["body"]) for i, m in zip(ROWS["id"], ROWS["meta"], strict=True)
    ]
    assert items[7].original_object() == {"id": "doc7", "meta": {"lang": "en"}, "url": "http://x/7"}


def test_a_saved_dataset_dict_reads_each_split_with_ids_from_file_and_row(tmp_path):
    splits = datasets.DatasetDict(
        train=datasets.Dataset.from_dict({"text": ["a", "b", "c"]}),
        test=datasets.Dataset.from_dict({"text": ["d"]}),
    )
    splits.save_to_disk(tmp_path / "dd")
    spec = TextSourceSpec("hf", "text", "hf_arrow")
    files = sorted((tmp_path / "dd").glob("*/*.arrow"))
    items = [i for f in files for i in read_path(f, spec, f"{f.parent.name}/{f.name}")]
    assert [(e.id, e.text) for e in items] == [
        ("test/data-00000-of-00001.arrow:0", "d"),
        ("train/data-00000-of-00001.arrow:0", "a"),
        ("train/data-00000-of-00001.arrow:1", "b"),
        ("train/data-00000-of-00001.arrow:2", "c"),
    ]


def test_a_cut_arrow_file_keeps_whole_batches_and_counts_the_rest_once(tmp_path):
    datasets.Dataset.from_dict(ROWS).save_to_disk(tmp_path / "wiki")
    (arrow,) = (tmp_path / "wiki").glob("*.arrow")
    data = arrow.read_bytes()
    *kept, rest = read_bytes(data[: len(data) // 2], ARROW, "w.arrow")
    with pa.ipc.open_stream(data) as stream:
        batch_rows = [b.num_rows for b in stream]
    assert len(kept) in {sum(batch_rows[:n]) for n in range(len(batch_rows))}  # whole batches
    assert 0 < len(kept) < 2500 and all(isinstance(e, Example) for e in kept)
    assert rest.reason == "unreadable_file" and rest.example.id == f"w.arrow:{len(kept)}+"


def test_files_that_are_not_arrow_streams_are_one_rejection(tmp_path):
    (rejected,) = read_bytes(b'{"text": "jsonl"}\n', ARROW)
    assert rejected.reason == "unreadable_file"
    datasets.Dataset.from_dict({"text": ["x"]}).save_to_disk(tmp_path / "d")
    (rejected,) = read_path(tmp_path / "d" / "state.json", ARROW)
    assert rejected.reason == "unreadable_file"


def test_an_arrow_file_past_the_decompressed_limit_stops_before_the_batch_is_read(tmp_path):
    datasets.Dataset.from_dict(ROWS).save_to_disk(tmp_path / "wiki")
    (arrow,) = (tmp_path / "wiki").glob("*.arrow")
    size = arrow.stat().st_size
    limits = ReadConfig(max_decompressed_bytes=size // 2)
    spec = TextSourceSpec("hf", "text", "hf_arrow", text_field="meta.body", limits=limits)
    asked: list[int] = []

    class Watched(io.BytesIO):
        def read(self, n=-1):
            asked.append(n)
            return super().read(n)

    data = arrow.read_bytes()
    *kept, rest = read_text_file(spec, lambda: Watched(data), "w.arrow", "w.arrow")
    assert len(kept) == 1000 and all(isinstance(e, Example) for e in kept)  # one whole batch
    assert rest.reason == "decompressed_too_large" and rest.example.id == "w.arrow:1000+"
    assert sum(n for n in asked if n > 0) <= size // 2  # the refused read never reached the file


def test_parquet_export_with_a_struct_column_reaches_the_nested_text(tmp_path):
    dataset = datasets.Dataset.from_dict(ROWS)
    dataset.to_parquet(tmp_path / "export.parquet")
    spec = TextSourceSpec("pq", "text", "parquet", text_field="meta.body", id_field="id")
    items = read_path(tmp_path / "export.parquet", spec)
    assert [(e.id, e.text) for e in items] == [
        (i, m["body"]) for i, m in zip(ROWS["id"], ROWS["meta"], strict=True)
    ]


def test_a_literal_key_with_a_dot_wins_over_the_nested_path():
    data = json.dumps({"meta.body": "literal", "meta": {"body": "nested"}}).encode() + b"\n"
    (item,) = read_bytes(data, TextSourceSpec("j", "text", "jsonl", text_field="meta.body"))
    assert item.text == "literal"
    assert item.original_object() == {"meta": {"body": "nested"}}


def test_dotted_text_and_id_fields_in_jsonl_and_their_failures():
    spec = TextSourceSpec("j", "text", "jsonl", text_field="meta.body", id_field="meta.id")
    data = b"".join(
        json.dumps(row).encode() + b"\n"
        for row in [
            {"meta": {"body": "deep", "id": 7, "x": 1}},
            {"meta": {"id": "no-body"}},
            {"meta": "a string, not an object"},
            {"meta": {"body": ["a", "list"], "id": "l"}},
            {"meta": {"body": "\ud800", "id": "s"}},
        ]
    )
    first, *rest = read_bytes(data, spec, "n.jsonl")
    assert (first.id, first.text, first.original_object()) == (
        "7",
        "deep",
        {"meta": {"id": 7, "x": 1}},
    )
    assert [(r.reason, r.example.id) for r in rest] == [
        ("missing_text_field", "no-body"),
        ("missing_text_field", "n.jsonl:3"),
        ("text_not_a_string", "l"),
        ("invalid_unicode", "s"),
    ]


@pytest.mark.parametrize("column", ["meta", "meta.body"])
def test_a_parquet_column_named_with_a_dot_is_found_before_a_struct(tmp_path, column):
    table = pa.table({"meta.body": ["flat"], "meta": [{"body": "nested"}]})
    pq.write_table(table, tmp_path / "t.parquet")
    spec = TextSourceSpec("pq", "text", "parquet", text_field=column)
    (item,) = read_path(tmp_path / "t.parquet", spec)
    assert isinstance(item, Rejection if column == "meta" else Example)
    if column == "meta.body":
        assert item.text == "flat"
