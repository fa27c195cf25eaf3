"""A hostile-input corpus: what real dumps and crawls hold, and how many inputs a run must count.

`write_hostile_corpus(root)` writes text sources full of bad input and a config (the
default filters, read bounds stated in `READ_LIMITS`) and returns the number of
inputs each source must report, derived from what was written and the reader's
documented rules (one input per non-blank line or Parquet row; an empty or
unopenable file is one; the rest of a file that cannot be decompressed further is
one), never from running the pipeline.

Media inputs (16-bit PNGs, tar member names that are not UTF-8, ...) have their own
writer (`tests/support/hostile_media.py`); add it to `MEDIA_PARTS`, as a function of the
corpus root returning a `Part`, and the combined test runs them too.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from polymix.sample import web_text

MiB = 2**20
READ_LIMITS = {
    "max_line_bytes": 4 * MiB,
    "max_text_chars": 1_000_000,
    "max_decompressed_bytes": 16 * MiB,
}
HUGE_LINE_BYTES = 50 * MiB
BOMB_EXPANDED_BYTES = 2 * 2**30


@dataclass
class Part:
    """Some sources of the corpus: their config entries and the inputs each must report."""

    sources: list[dict]
    inputs: dict[str, int]
    planted: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> stage/reason -> n


MEDIA_PARTS: list[Callable[[Path], Part]] = []


def _json(obj) -> bytes:
    return json.dumps(obj).encode()


def _nested(depth: int) -> bytes:
    return (
        b'{"id": "deep-%d", "text": "nested", "meta": ' % depth + b"[" * depth + b"]" * depth + b"}"
    )


def _good_lines(count: int, seed: int) -> list[bytes]:
    docs = web_text.make_documents("clean", count, seed=seed)
    return [
        _json({"id": f"good-{seed}-{i}", "url": f"https://e.org/{i}", "text": t})
        for i, t in enumerate(docs)
    ]


def _mixed_lines() -> tuple[list[bytes], dict[str, int]]:
    """(lines, planted read rejections): one of each kind of bad line, between good ones."""
    doc = web_text.make_documents("clean", 1, seed=99)[0]
    bad = [
        (b'{"id": "s-text", "text": "broken \\ud83d emoji"}', "read/invalid_unicode"),
        (b'{"id": "\\udc80", "text": "fine"}', "read/invalid_unicode"),
        (b'{"id": "s-meta", "text": ' + _json(doc) + b', "\\ud800": "\\udfff"}', None),
        (b'{"id": "s-key", "te\\ud800xt": "no text field left"}', "read/missing_text_field"),
        (_nested(300), None),
        (_nested(1_000), "read/nesting_too_deep"),
        (_nested(100_000), "read/nesting_too_deep"),
        (b'{"id": "nul-id\\u0000", "text": "x"}', "read/invalid_id"),
        (b'{"id": "nul-text", "text": ' + _json(doc + "\0 end") + b"}", None),
        (b'{"id": "raw-nul", "text": "a\x00b"}', "read/invalid_json"),
        (b'{"id": "latin1", "text": "caf\xe9"}', "read/invalid_utf8"),
        (b"[1, 2, 3]", "read/not_an_object"),
        (b"42", "read/not_an_object"),
        (b'"just a string"', "read/not_an_object"),
        (b"null", "read/not_an_object"),
        (b'{"id": "trailing"} junk', "read/invalid_json"),
        (_json({"id": "x" * 5000, "text": "long id"}), "read/invalid_id"),
        (_json({"id": "too-much-text", "text": "word " * 300_000}), "read/text_too_long"),
        (_json({"id": "huge", "text": "y" * HUGE_LINE_BYTES}), "read/line_too_long"),
        (_json({"id": "crlf", "text": doc}) + b"\r", None),
        (_json({"id": "dup-same", "text": doc}), None),
        (_json({"id": "dup-same", "text": doc}), "read/duplicate_id"),
        (_json({"id": "dup-diff", "text": doc}), None),
        (_json({"id": "dup-diff", "text": "An unrelated page. " * 40}), "read/duplicate_id"),
    ]
    lines = [b"\xef\xbb\xbf" + _good_lines(1, seed=1)[0]]
    planted: dict[str, int] = {}
    for line, reason in bad:
        lines += [line, b"", b"   "]  # blank lines are not inputs
        if reason:
            planted[reason] = planted.get(reason, 0) + 1
    return lines + _good_lines(6, seed=2), planted


def _gzip_members(member: bytes, expanded: int, chunk: int) -> bytes:
    return member * (expanded // chunk)


def _web(root: Path) -> Part:
    folder = root / "web"
    folder.mkdir(parents=True)
    lines, planted = _mixed_lines()
    (folder / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    inputs = sum(1 for line in lines if line.replace(b"\xef\xbb\xbf", b"").strip())

    bomb_line = _json({"id": "bomb", "text": "again and again " * 16_384}) + b"\n"  # ~256 KiB
    chunk = len(bomb_line) * 256
    bomb = _gzip_members(gzip.compress(bomb_line * 256, 9), BOMB_EXPANDED_BYTES, chunk)
    (folder / "bomb.jsonl.gz").write_bytes(bomb)
    allowed = min(READ_LIMITS["max_decompressed_bytes"], max(64 * MiB, 50 * len(bomb)))
    inputs += allowed // len(bomb_line) + 1  # the lines within the bound, then the rest as one
    planted["read/decompressed_too_large"] = 1
    planted["read/duplicate_id"] += allowed // len(bomb_line) - 1  # one id, many copies

    zeros = _gzip_members(gzip.compress(b"\0" * (16 * MiB), 9), BOMB_EXPANDED_BYTES, 16 * MiB)
    (folder / "zeros.jsonl.gz").write_bytes(zeros)
    inputs += 1  # one endless line: the bound stops it before its end
    planted["read/decompressed_too_large"] += 1

    whole = gzip.compress(b"\n".join(_good_lines(40, seed=3)) + b"\n")
    cut = whole[: len(whole) // 2]
    (folder / "truncated.jsonl.gz").write_bytes(cut)
    inputs += zlib.decompressobj(31).decompress(cut).count(b"\n") + 1
    planted["read/unreadable_file"] = 1

    (folder / "empty.jsonl").write_bytes(b"")
    inputs += 1
    planted["read/empty_file"] = 1
    source = {"name": "web", "modality": "text", "format": "jsonl", "id_field": "id"}
    source["paths"] = ["web/*.jsonl", "web/*.jsonl.gz"]
    return Part([source], {"web": inputs}, {"web": planted})


def _parquet(rows: list[dict], row_group_size: int | None = None) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(
        pa.Table.from_pylist(rows), buffer, row_group_size=row_group_size, compression="none"
    )
    return buffer.getvalue()


def _books(root: Path) -> Part:
    folder = root / "books"
    folder.mkdir(parents=True)
    docs = web_text.make_documents("clean", 30, seed=5)
    rows = [{"book_id": f"b{i}", "content": d} for i, d in enumerate(docs)]
    (folder / "good.parquet").write_bytes(_parquet(rows[:10]))
    damaged = bytearray(_parquet(rows[10:30], row_group_size=10))
    column = pq.ParquetFile(io.BytesIO(bytes(damaged))).metadata.row_group(1).column(1)
    damaged[column.data_page_offset : column.data_page_offset + 64] = b"\xff" * 64
    (folder / "damaged.parquet").write_bytes(bytes(damaged))
    whole = _parquet(rows[:5])
    (folder / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (folder / "no_text.parquet").write_bytes(_parquet([{"book_id": "t1"}, {"book_id": "t2"}]))
    planted = {
        "read/unreadable_row": 10,
        "read/unreadable_file": 1,
        "read/missing_text_field": 2,
    }
    source = {
        "name": "books",
        "modality": "text",
        "format": "parquet",
        "paths": ["books/*.parquet"],
    }
    source.update(text_field="content", id_field="book_id")
    return Part([source], {"books": 10 + 20 + 1 + 2}, {"books": planted})


def write_hostile_corpus(root: Path) -> tuple[Path, Part]:
    """The corpus under `root` (created) and its config; returns (config path, what it holds)."""
    parts = [_web(root), _books(root), *(make(root) for make in MEDIA_PARTS)]
    combined = Part([], {}, {})
    for part in parts:
        combined.sources += part.sources
        combined.inputs.update(part.inputs)
        combined.planted.update(part.planted)
    config = {
        "sources": combined.sources,
        "read": READ_LIMITS,
        "tokenizer": {"model": "tokenizer/spm.model", "vocab_size": 800},
        "shards": {"target_bytes": 262144, "max_seq_len": 512},
    }
    path = root / "hostile.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, combined
