"""`format: text`: one document per file, checked against the files as Python reads them."""

import bz2
import gzip
import io
import lzma
from pathlib import Path

import pytest
import zstandard

import polymix
from polymix.core.config.read import ReadConfig
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

SPEC = TextSourceSpec("books", "text", "text")
# Real prose nobody here wrote: the licence and metadata texts installed packages ship.
REAL_TEXTS = sorted(Path(pytest.__file__).parents[1].glob("*.dist-info/LICENSE*"))[:5]


def read(data: bytes, path: str = "a/book.txt", spec: TextSourceSpec = SPEC) -> list:
    return list(read_text_file(spec, lambda: io.BytesIO(data), path, path))


def test_real_text_files_are_one_document_each_exactly_as_python_reads_them():
    assert len(REAL_TEXTS) >= 3, "no licence texts found next to pytest"
    for path in REAL_TEXTS:
        (doc,) = read(path.read_bytes(), f"licenses/{path.parent.name}")
        assert isinstance(doc, Example)
        assert doc.id == f"licenses/{path.parent.name}"
        assert doc.text == path.read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    "suffix, compress",
    [
        ("gz", gzip.compress),
        ("bz2", bz2.compress),
        ("xz", lzma.compress),
        ("zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_a_compressed_text_file_is_the_same_document(suffix, compress):
    text = Path(polymix.__file__).with_name("cli.py").read_text()
    (doc,) = read(compress(text.encode()), f"code/cli.py.{suffix}")
    assert doc.text == text and doc.id == f"code/cli.py.{suffix}"


def test_a_bom_is_dropped_and_multibyte_characters_cut_between_chunks_survive():
    text = "é" * (1 << 20) + "終わり"  # 2 MiB of two-byte characters: chunk edges split some
    (doc,) = read(b"\xef\xbb\xbf" + text.encode())
    assert doc.text == text


@pytest.mark.parametrize(
    "data, where",
    [
        (b"caf\xe9 au lait", "byte 3"),
        (b"ok" + "\ud800".encode("utf-8", "surrogatepass"), "byte 2"),  # lone surrogate
        ("é".encode() * (1 << 20) + b"\xff", f"byte {2 << 20}"),
        ("é".encode()[:1], "byte 0"),  # the file ends inside a character
    ],
)
def test_bytes_that_are_not_utf8_reject_the_file_and_say_where(data, where):
    (rejected,) = read(data)
    assert isinstance(rejected, Rejection) and rejected.reason == "invalid_utf8"
    assert rejected.detail.startswith(where + ":")
    assert rejected.example.id == "a/book.txt"


def test_a_file_over_the_text_limit_is_one_rejection_with_a_prefix():
    spec = TextSourceSpec("books", "text", "text", limits=ReadConfig(max_text_chars=5000))
    (rejected,) = read(b"x" * 5001, spec=spec)
    assert rejected.reason == "text_too_long"
    assert rejected.example.text == "x" * ReadConfig().rejected_prefix_bytes
    (kept,) = read(b"x" * 5000, spec=spec)
    assert isinstance(kept, Example)


def test_an_empty_file_is_accounted_for_and_a_truncated_one_is_not_a_document():
    (empty,) = read(b"")
    assert empty.reason == "empty_file"
    whole = gzip.compress(b"the whole book " * 5000)
    (cut,) = read(whole[: len(whole) // 2], "a/book.txt.gz")
    assert cut.reason == "unreadable_file" and "truncated" in cut.detail


def test_a_compressed_bomb_stops_at_the_limit():
    limits = ReadConfig(max_decompressed_bytes=2**20, max_expansion_ratio=0)
    spec = TextSourceSpec("books", "text", "text", limits=limits)
    (rejected,) = read(bz2.compress(b"a" * (8 << 20)), "a/book.txt.bz2", spec)
    assert rejected.reason == "decompressed_too_large"


def test_a_read_error_midway_is_retried_and_the_document_is_whole():
    from tests.transforms.test_read_text import FailingOnce

    text = "A long book. " * 400_000  # 5 MB: several chunks
    data = lzma.compress(text.encode())
    FailingOnce.opened = 0
    opener = lambda: FailingOnce(data, len(data) // 2)  # noqa: E731
    (doc,) = read_text_file(SPEC, opener, "a/book.txt.xz", "a/book.txt.xz")
    assert doc.text == text and FailingOnce.opened == 2
    FailingOnce.opened = 0
    opener = lambda: FailingOnce(data, len(data) // 2, fail_always=True)  # noqa: E731
    (rejected,) = read_text_file(SPEC, opener, "a/book.txt.xz", "a/book.txt.xz")
    assert rejected.reason == "unreadable_file" and "twice" in rejected.detail
