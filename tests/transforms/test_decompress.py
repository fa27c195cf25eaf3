"""Every codec Beam detects, on files the standard library and zstandard wrote.

Counts are derived from the codecs' own decompressors (what the standard library gets
out of a cut file), never from our reader.
"""

import bz2
import gzip
import io
import json
import lzma
import zlib

import pytest
import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from polymix.core.config.read import ReadConfig
from polymix.transforms.decompress import compression_of
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

SPEC = TextSourceSpec("web", "text", "jsonl", id_field="id")


def _xz(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ)


def _lzma_alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


# suffix, writer, the same codec's own decoder for a cut file (what can be recovered)
CODECS = {
    "gz": (gzip.compress, lambda cut: zlib.decompressobj(31).decompress(cut)),
    "bz2": (lambda b: bz2.compress(b, 1), lambda cut: bz2.BZ2Decompressor().decompress(cut)),
    "xz": (_xz, lambda cut: lzma.LZMADecompressor().decompress(cut)),
    "lzma": (_lzma_alone, lambda cut: lzma.LZMADecompressor().decompress(cut)),
    "zst": (_zstd, lambda cut: zstandard.ZstdDecompressor().decompressobj().decompress(cut)),
    "deflate": (zlib.compress, lambda cut: zlib.decompressobj().decompress(cut)),
}


def jsonl(count: int, start: int = 0) -> bytes:
    rows = ({"id": f"d{i}", "text": f"document {i} " + "word " * (i % 50)} for i in range(count))
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def read(data: bytes, path: str, spec: TextSourceSpec = SPEC) -> list:
    return list(read_text_file(spec, lambda: io.BytesIO(data), path, path))


@pytest.mark.parametrize(
    "name",
    [
        "a.jsonl.gz", "a.JSONL.GZ", "a.bz2", "a.jsonl.xz", "a.lzma", "a.zst", "a.zstd",
        "a.deflate", "a.jsonl", "a.gz.txt", "a.tar.xz", "a.xz.jsonl", "gs://b/x.csv.Bz2",
    ],
)  # fmt: skip
def test_the_codec_is_the_one_beam_detects(name):
    assert compression_of(name) == CompressionTypes.detect_compression_type(name)


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_every_codec_reads_the_same_examples_as_the_plain_file(suffix):
    compress, _ = CODECS[suffix]
    data = jsonl(300)
    items = read(compress(data), f"f.jsonl.{suffix}")
    assert [(e.id, e.text) for e in items] == [(e.id, e.text) for e in read(data, "f.jsonl")]
    assert len(items) == 300


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_our_bytes_are_the_bytes_beam_reads_from_the_same_file(suffix, tmp_path):
    from polymix.transforms.decompress import DECOMPRESSORS

    compress, _ = CODECS[suffix]
    data = jsonl(2000)
    path = tmp_path / f"f.jsonl.{suffix}"
    path.write_bytes(compress(data[:999]) + compress(data[999:]))  # two members or streams
    with FileSystems.open(str(path)) as beam_file:  # CompressionTypes.AUTO: Beam's own codec
        beam_bytes = beam_file.read()
    with open(path, "rb") as raw:
        ours = b"".join(DECOMPRESSORS[compression_of(str(path))](raw.read))
    assert ours == beam_bytes == data


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_a_truncated_file_keeps_every_line_its_codec_recovers_and_counts_the_rest_once(suffix):
    compress, recover = CODECS[suffix]
    whole = compress(jsonl(12_000))  # ~1.4 MB: bzip2 -1 makes 100 kB blocks
    cut = whole[: len(whole) // 2]
    complete_lines = recover(cut).count(b"\n")
    assert complete_lines > 1000  # the cut leaves something to recover
    *examples, rest = read(cut, f"f.jsonl.{suffix}")
    assert all(isinstance(e, Example) for e in examples)
    assert len(examples) == complete_lines
    assert rest.reason == "unreadable_file" and "truncated" in rest.detail
    assert rest.example.id == f"f.jsonl.{suffix}:{complete_lines + 1}+"


# zstd frames carry no checksum unless asked to: damage there may decode as other bytes.
@pytest.mark.parametrize("suffix", ["bz2", "xz", "gz", "deflate"])
def test_damaged_bytes_keep_what_came_before_and_reject_the_rest_once(suffix):
    compress, _ = CODECS[suffix]
    whole = bytearray(compress(jsonl(12_000)))
    middle = len(whole) // 2
    whole[middle : middle + 200] = bytes(200)
    items = read(bytes(whole), f"f.jsonl.{suffix}")
    rest = items[-1]
    assert isinstance(rest, Rejection) and rest.reason == "unreadable_file"
    assert not any(isinstance(i, Rejection) for i in items[:-1][:1000])  # the start survived


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_a_bomb_in_any_codec_stops_at_the_limit(suffix):
    compress, _ = CODECS[suffix]
    line = json.dumps({"text": "a" * 10_000}).encode() + b"\n"
    bomb = compress(line * 2000)  # 20 MB of lines
    limits = ReadConfig(max_decompressed_bytes=2**20, max_expansion_ratio=0)
    *examples, rest = read(
        bomb, f"f.jsonl.{suffix}", TextSourceSpec("w", "text", "jsonl", limits=limits)
    )
    assert len(examples) == 2**20 // len(line)
    assert rest.reason == "decompressed_too_large"


def test_an_xz_file_asking_for_a_huge_dictionary_is_refused_not_allocated():
    data = _lzma_alone(jsonl(100))
    header = bytearray(data)
    header[1:5] = (1 << 30).to_bytes(4, "little")  # a 1 GiB dictionary: still a valid file
    assert lzma.decompress(bytes(header)) == jsonl(100)
    (rest,) = read(bytes(header), "f.jsonl.lzma")
    assert rest.reason == "unreadable_file" and "xz" in rest.detail


def test_zero_padding_after_the_last_stream_is_not_data():
    for suffix in ("xz", "bz2", "gz"):
        compress, _ = CODECS[suffix]
        items = read(compress(jsonl(5)) + bytes(12), f"f.jsonl.{suffix}")
        assert [type(i) for i in items] == [Example] * 5, suffix
