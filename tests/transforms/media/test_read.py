import io
import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq

from polymix.transforms.example import Rejection
from polymix.transforms.media.read import (
    MediaSourceSpec,
    read_media_file,
    read_media_parquet,
    read_webdataset,
)

SPEC = MediaSourceSpec("pics", "image", "webdataset", max_file_bytes=1000, caption_field="txt")


def _tar(members: list[tuple[str, bytes | None, bytes]], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "../../etc/passwd"
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _outcomes(items) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if isinstance(item, Rejection):
            out.append((item.example.id, item.reason))
        else:
            out.append((item.id, f"ok:{item.text}:{len(item.media)}"))
    return out


def test_webdataset_groups_members_by_key_and_rejects_links_and_devices():
    data = _tar(
        [
            ("a/x001.jpg", b"JPEG", tarfile.REGTYPE),
            ("a/x001.txt", b"a cat", tarfile.REGTYPE),
            ("a/x002.png", b"PNG!", tarfile.REGTYPE),
            ("a/x002.json", json.dumps({"txt": "a dog", "w": 3}).encode(), tarfile.REGTYPE),
            ("a/x003.txt", b"no picture", tarfile.REGTYPE),
            ("a/x004.jpg", None, tarfile.SYMTYPE),
            ("a/x005.jpg", None, tarfile.CHRTYPE),
            ("a/x006.jpg", b"J" * 2000, tarfile.REGTYPE),  # over max_file_bytes
            ("a/x007.seg.jpg", b"JPG2", tarfile.REGTYPE),  # key up to the first dot
            ("a/x001.jpg", b"again", tarfile.REGTYPE),  # a key seen before
        ]
    )
    got = _outcomes(read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar"))
    assert got == [
        ("s.tar/a/x001", "ok:a cat:4"),
        ("s.tar/a/x002", "ok:a dog:4"),
        ("s.tar/a/x003", "no_media_member"),
        ("s.tar/a/x004.jpg", "tar_link_member"),
        ("s.tar/a/x005.jpg", "tar_special_member"),
        ("s.tar/a/x006", "file_too_large"),
        ("s.tar/a/x007", "ok:None:4"),
        ("s.tar/a/x001", "repeated_key"),
    ]


def test_webdataset_never_writes_members_to_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _tar(
        [("../../evil.jpg", b"JPEG", tarfile.REGTYPE), ("/abs/evil.jpg", b"J", tarfile.REGTYPE)]
    )
    got = _outcomes(read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar"))
    assert [reason for _, reason in got] == ["ok:None:4", "ok:None:1"]
    assert list(tmp_path.iterdir()) == []


def test_compressed_corrupt_and_empty_shards():
    gz = _tar([("k.jpg", b"JPEG", tarfile.REGTYPE)], mode="w:gz")
    assert _outcomes(read_webdataset(SPEC, io.BytesIO(gz), "s.tgz", "s.tgz")) == [
        ("s.tgz/k", "ok:None:4")
    ]
    whole = _tar([(f"k{i}.jpg", b"J" * 600, tarfile.REGTYPE) for i in range(4)])
    truncated = _outcomes(read_webdataset(SPEC, io.BytesIO(whole[:2000]), "t.tar", "t.tar"))
    assert truncated[-1] == ("t.tar:file", "unreadable_file")
    assert _outcomes(read_webdataset(SPEC, io.BytesIO(b"not a tar" * 100), "b", "b")) == [
        ("b:file", "unreadable_file")
    ]
    assert _outcomes(read_webdataset(SPEC, io.BytesIO(_tar([])), "e", "e")) == [
        ("e:file", "empty_file")
    ]


def test_files_with_sidecar_captions(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"JPEG")
    (tmp_path / "a.txt").write_text("caption a")
    (tmp_path / "b.jpg").write_bytes(b"JPEG")
    (tmp_path / "b.json").write_text(json.dumps({"txt": "caption b"}))
    (tmp_path / "c.jpg").write_bytes(b"JPEG")
    (tmp_path / "d.jpg").write_bytes(b"JPEG")
    (tmp_path / "d.json").write_text("{not json")
    (tmp_path / "big.jpg").write_bytes(b"J" * 1001)
    spec = MediaSourceSpec("pics", "image", "files", max_file_bytes=1000, caption_field="txt")

    def read(name: str, size=None):
        path = str(tmp_path / name)
        return _outcomes(read_media_file(spec, lambda p: open(p, "rb"), path, name, size))

    assert read("a.jpg") == [("a.jpg", "ok:caption a:4")]
    assert read("b.jpg") == [("b.jpg", "ok:caption b:4")]
    assert read("c.jpg") == [("c.jpg", "ok:None:4")]
    assert read("d.jpg") == [("d.jpg", "invalid_caption")]
    assert read("big.jpg") == [("big.jpg", "file_too_large")]  # size unknown: bounded read
    assert read("big.jpg", size=1001) == [("big.jpg", "file_too_large")]  # not even opened
    assert read("missing.jpg") == [("missing.jpg", "unreadable_file")]


def test_parquet_bytes_column():
    table = pa.Table.from_pylist(
        [
            {"key": "r0", "image": b"JPEG", "caption": "one"},
            {"key": None, "image": b"PNG!", "caption": None},
            {"key": "r2", "image": None, "caption": "two"},
            {"key": "r3", "image": b"J" * 1001, "caption": None},
        ],
        schema=pa.schema([("key", pa.string()), ("image", pa.binary()), ("caption", pa.string())]),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    spec = MediaSourceSpec(
        "t", "image", "parquet", 1000, id_field="key", media_field="image", caption_field="caption"
    )
    got = _outcomes(
        read_media_parquet(spec, io.BytesIO(buffer.getvalue()), "t.parquet", "t.parquet")
    )
    assert got == [
        ("r0", "ok:one:4"),
        ("t.parquet:1", "ok:None:4"),
        ("r2", "missing_media_field"),
        ("r3", "file_too_large"),
    ]
    wrong = MediaSourceSpec("t", "image", "parquet", 1000, media_field="pixels")
    assert _outcomes(read_media_parquet(wrong, io.BytesIO(buffer.getvalue()), "t", "t")) == [
        ("t:file", "missing_media_field")
    ]
    assert _outcomes(read_media_parquet(spec, io.BytesIO(b"PAR1 nope"), "x", "x")) == [
        ("x:file", "unreadable_file")
    ]


def test_examples_carry_no_bytes_in_their_original():
    data = _tar([("k.jpg", b"JPEG", tarfile.REGTYPE), ("j.txt", b"t", tarfile.REGTYPE)])
    for item in read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar"):
        example = item.example if isinstance(item, Rejection) else item
        assert not any(isinstance(v, bytes) for v in example.original_object().values())


def _encodable(item) -> None:
    """What a side file or shard writes of an example: UTF-8 JSON, or it fails the run."""
    example = item.example if isinstance(item, Rejection) else item
    fields = {"id": example.id, "text": example.text, "original": example.original}
    json.dumps(fields, ensure_ascii=False).encode("utf-8")


def _raw_tar(members: list[tuple[bytes, bytes]]) -> bytes:
    """A GNU tar whose member names are the given bytes, whatever their encoding."""
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer,
        mode="w",
        format=tarfile.GNU_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    ) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("utf-8", "surrogateescape"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_member_names_that_are_not_utf8_become_escaped_valid_ids():
    data = _raw_tar(
        [
            (b"caf\xe9.jpg", b"JPEG"),  # latin-1
            (b"caf\xe9.txt", "caf\u00e9 au lait".encode()),
            ("café.jpg".encode(), b"JPG2"),  # the same name in UTF-8: another key
            (b"\xff\xfe.png", b"PNG!"),
        ]
    )
    items = list(read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar"))
    assert _outcomes(items) == [
        ("s.tar/caf\\xe9", "ok:café au lait:4"),
        ("s.tar/café", "ok:None:4"),
        ("s.tar/\\xff\\xfe", "ok:None:4"),
    ]
    for item in items:
        _encodable(item)
    assert items[0].original_object()["key"] == "caf\\xe9"


def test_names_are_read_the_same_whatever_the_machine_encoding(monkeypatch):
    monkeypatch.setattr(tarfile.TarFile, "encoding", "latin-1")  # a worker with another locale
    data = _raw_tar([(b"caf\xc3\xa9.jpg", b"JPEG")])
    assert _outcomes(read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar")) == [
        ("s.tar/café", "ok:None:4")
    ]


def test_json_caption_with_a_lone_surrogate_is_repaired():
    data = _tar(
        [
            ("k.jpg", b"JPEG", tarfile.REGTYPE),
            ("k.json", b'{"txt": "a \\ud800 cat \\ud83d\\ude00"}', tarfile.REGTYPE),
        ]
    )
    (item,) = read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar")
    assert item.text == "a \ufffd cat \U0001f600"  # the lone half replaced, the pair kept
    assert item.original_object()["caption_repairs"] == 1
    _encodable(item)


def test_file_ids_with_undecodable_bytes_are_escaped(tmp_path):
    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")  # as os.listdir returns it
    spec = MediaSourceSpec("pics", "image", "files", max_file_bytes=1000)
    (item,) = read_media_file(spec, lambda p: io.BytesIO(b"JPEG"), f"/data/{name}", name, 4)
    assert item.id == "caf\\xe9.jpg"
    _encodable(item)


def test_ids_are_relative_to_the_source_root_in_original_too():
    spec = MediaSourceSpec("pics", "image", "files", max_file_bytes=1000)
    (item,) = read_media_file(
        spec, lambda p: io.BytesIO(b"JPEG"), "/abs/root/a/b.jpg", "a/b.jpg", 4
    )
    assert item.original_object()["file"] == "a/b.jpg"
    data = _tar([("k.jpg", b"JPEG", tarfile.REGTYPE)])
    (item,) = read_webdataset(SPEC, io.BytesIO(data), "gs://bucket/shards/s.tar", "shards/s.tar")
    assert item.id == "shards/s.tar/k" and item.original_object()["file"] == "shards/s.tar"


def test_parquet_ids_and_captions_are_made_valid():
    table = pa.Table.from_pylist(
        [
            {"key": b"r\xff", "image": b"JPEG", "caption": "x"},
            {"key": b"", "image": b"PNG!", "caption": None},
        ],
        schema=pa.schema([("key", pa.binary()), ("image", pa.binary()), ("caption", pa.string())]),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    spec = MediaSourceSpec(
        "t", "image", "parquet", 1000, id_field="key", media_field="image", caption_field="caption"
    )
    items = list(
        read_media_parquet(spec, io.BytesIO(buffer.getvalue()), "/x/t.parquet", "t.parquet")
    )
    assert [item.id for item in items] == ["r\\xff", "t.parquet:1"]
    for item in items:
        _encodable(item)


def test_oversized_caption_sidecar_in_a_shard_is_a_rejection_not_a_silent_skip():
    data = _tar([("k.jpg", b"JPEG", tarfile.REGTYPE), ("k.txt", b"t" * (2 << 20), tarfile.REGTYPE)])
    spec = MediaSourceSpec("pics", "image", "webdataset", 4 << 20, caption_field="txt")
    assert _outcomes(read_webdataset(spec, io.BytesIO(data), "s.tar", "s.tar")) == [
        ("s.tar/k", "invalid_caption")
    ]


def test_a_key_with_too_many_members_is_rejected():
    members = [(f"k.{i:04d}.jpg", b"J" * 10, tarfile.REGTYPE) for i in range(300)]
    members.append(("next.jpg", b"JPEG", tarfile.REGTYPE))
    got = _outcomes(read_webdataset(SPEC, io.BytesIO(_tar(members)), "s.tar", "s.tar"))
    assert got == [("s.tar/k", "too_many_members"), ("s.tar/next", "ok:None:4")]


def test_only_the_chosen_media_member_and_captions_are_kept_in_memory():
    data = _tar(
        [
            ("k.b.jpg", b"second", tarfile.REGTYPE),
            ("k.a.jpg", b"first", tarfile.REGTYPE),  # sorts first: the one used
            ("k.bin", b"x" * 900, tarfile.REGTYPE),  # not media: never read
        ]
    )
    (item,) = read_webdataset(SPEC, io.BytesIO(data), "s.tar", "s.tar")
    assert item.media == b"first" and item.original_object()["members"] == ["a.jpg", "b.jpg", "bin"]
