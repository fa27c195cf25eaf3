"""The manifest as a trust boundary, and its index read back lazily, locally and remotely."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from array_record.python.array_record_module import ArrayRecordWriter

from polymix.core.manifest import (
    Manifest,
    ManifestError,
    ShardInfo,
    SideFileInfo,
    SourceTotals,
    TokenizerInfo,
    check_relative,
    find_problems,
    load_manifest,
    parse_manifest,
    sha256_file,
    write_manifest,
)
from tests.support.manifest_edit import edit_entries, edit_top_level

RECORDS = 5


def _shard(folder: Path, source: str, k: int) -> ShardInfo:
    relative = f"shards/{source}/{source}-{k:05d}-of-00003.array_record"
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    writer = ArrayRecordWriter(str(folder / relative), "group_size:1")
    for i in range(RECORDS):
        writer.write(f"{source}-{k}-{i}".encode())
    writer.close()
    path = folder / relative
    return ShardInfo(
        path=relative,
        source=source,
        modality="text",
        records=RECORDS,
        tokens=10 * RECORDS,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
        positions={"text": 10 * RECORDS},
    )


def _side(folder: Path, source: str, lines: int) -> SideFileInfo:
    relative = f"rejected/{source}/c4/error:ValueError/part-00000-of-00001.jsonl.gz"
    (folder / relative).parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps({"id": i}) + "\n" for i in range(lines)).encode()
    (folder / relative).write_bytes(gzip.compress(body, mtime=0))
    path = folder / relative
    return SideFileInfo(
        path=relative,
        kind="rejected",
        source=source,
        stage="c4",
        reason="error:ValueError",
        lines=lines,
        bytes=path.stat().st_size,
        sha256=sha256_file(path),
    )


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """Two sources of three shards each, one rejected file each, index files of 2 entries."""
    folder = tmp_path / "run"
    shards = [_shard(folder, s, k) for s in ("web", "books") for k in range(3)]
    sides = [_side(folder, "web", 4), _side(folder, "books", 2)]
    (folder / "tokenizer.model").write_bytes(b"a tokenizer")
    totals = {
        s: SourceTotals(
            modality="text",
            weight=1.0,
            input=3 + n,
            kept=3,
            records=3 * RECORDS,
            tokens=30 * RECORDS,
            rejected={"c4": {"error:ValueError": n}},
            positions={"text": 30 * RECORDS},
        )
        for s, n in (("web", 4), ("books", 2))
    }
    tokenizer = TokenizerInfo(
        path="tokenizer.model",
        sha256=sha256_file(folder / "tokenizer.model"),
        vocab_size=8,
        bos_id=1,
        eos_id=2,
        pad_id=0,
    )
    top = Manifest(
        polymix_version="test", config_hash="t", max_seq_len=8, tokenizer=tokenizer, sources=totals
    )
    write_manifest(folder, top, shards, sides, entries_per_file=2)
    return folder


def test_a_clean_run_has_no_problems_and_streams_each_source_on_its_own(run):
    manifest = load_manifest(run)
    assert list(find_problems(manifest)) == []
    assert len(manifest.index_files("shards", "web")) == 2  # 3 entries, 2 per file
    assert [s.path for s in manifest.shards("web")] == [
        f"shards/web/web-{k:05d}-of-00003.array_record" for k in range(3)
    ]
    assert {s.source for s in manifest.shards()} == {"web", "books"}
    assert manifest.shard_count == 6
    assert [f.lines for f in manifest.side_files("books")] == [2]


def test_the_index_file_list_is_small_and_the_shards_are_not_in_the_top_level(run):
    text = (run / "manifest.json").read_text()
    assert "array_record" not in text  # shard paths live in the index only


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../other/x",
        "gs://bucket/x",
        "file:x",
        "C:\\x",
        "a\\b",
        "a//b",
        "a/./b",
        "a/../b",
        "a/b/",
        "",
        "a/\x00b",
    ],
)
def test_paths_leaving_the_folder_are_refused(path):
    with pytest.raises(ValueError, match="relative to the manifest's folder"):
        check_relative(path)


def test_a_colon_inside_the_path_is_an_ordinary_character():
    assert check_relative("rejected/web/c4/error:ValueError/part-00000-of-00001.jsonl.gz")


def test_a_crafted_index_path_in_the_top_level_is_refused_before_reading(run):
    def elsewhere(raw):
        raw["index"][0]["path"] = "/etc/passwd"
        return raw

    edit_top_level(run, elsewhere)
    with pytest.raises(ManifestError, match=r"index\.0\.path: path '/etc/passwd' is absolute"):
        load_manifest(run)


def test_a_crafted_tokenizer_path_is_refused(run):
    def elsewhere(raw):
        raw["tokenizer"]["path"] = "../../tokenizer.model"
        return raw

    edit_top_level(run, elsewhere)
    with pytest.raises(ManifestError, match="tokenizer.path: path '../../tokenizer.model'"):
        load_manifest(run)


def test_another_schema_version_is_refused_with_both_versions_named(run):
    edit_top_level(run, lambda raw: raw | {"schema_version": 1, "shards": []})
    with pytest.raises(ManifestError, match="schema_version 1 is not understood .*reads 3"):
        load_manifest(run)


def _into_slot(run: Path, slot: str) -> None:
    """The run's files moved under `slot/`, the top level naming it, as a published run."""
    (run / slot).mkdir()
    for path in list(run.iterdir()):
        if path.name not in (slot, "manifest.json"):
            path.rename(run / slot / path.name)
    edit_top_level(run, lambda raw: raw | {"data": slot})


def test_the_data_prefix_binds_every_reader_to_the_folder_it_names(run):
    _into_slot(run, "data-b")
    for where in (run, run / "manifest.json"):
        manifest = load_manifest(where)
        assert manifest.root == str(run / "data-b")
        assert list(find_problems(manifest)) == []
    (run / "data-b" / "tokenizer.model").rename(run / "tokenizer.model")  # not where it belongs
    assert list(find_problems(load_manifest(run))) == ["tokenizer copy tokenizer.model: missing"]


@pytest.mark.parametrize("data", ["../other-run", "/etc", "gs://other-bucket/run", "a//b", "."])
def test_a_data_prefix_leaving_the_manifests_folder_is_refused(run, data):
    edit_top_level(run, lambda raw: raw | {"data": data})
    with pytest.raises(ManifestError, match=f"data: path {data!r}"):
        load_manifest(run)


def test_an_index_file_altered_after_writing_is_named(run):
    manifest = load_manifest(run)
    victim = manifest.index_files("shards", "web")[0]
    data = gzip.decompress((run / victim.path).read_bytes()).replace(b'"records":5', b'"records":6')
    (run / victim.path).write_bytes(gzip.compress(data, mtime=0))
    with pytest.raises(ManifestError, match=f"index {victim.path}: sha256 .* does not match"):
        list(manifest.shards("web"))
    assert list(manifest.shards("books"))  # the other source's index is not even read
    problems = list(find_problems(manifest))
    assert len(problems) == 1 and problems[0].startswith(f"index {victim.path}: sha256")


def test_an_entry_filed_under_another_source_is_refused(run):
    def misfile(entries):
        for entry in entries:
            entry["source"] = "web"
        return entries

    edit_entries(run, "rejected", misfile)
    raw = json.loads((run / "manifest.json").read_text())
    for info in raw["index"]:
        if info["kind"] == "rejected":
            info["source"] = "books"  # the index file claims books, its lines say web
    (run / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="rejected entry of source 'web' in the rejected index"):
        list(find_problems(load_manifest(run)))


def test_a_manifest_not_loaded_from_a_folder_cannot_read_its_index(run):
    manifest = parse_manifest((run / "manifest.json").read_text())
    with pytest.raises(ManifestError, match="not loaded from a folder"):
        list(manifest.shards())


def test_a_remote_run_reads_its_index_through_beam_filesystems(run, gcs):
    from apache_beam.io.filesystems import FileSystems

    from polymix.pipelines.file_io import write_bytes
    from tests.support.gcs_emulator import BUCKET

    remote = f"gs://{BUCKET}/manifest-test/run"
    for path in run.rglob("*"):
        if path.is_file():
            write_bytes(f"{remote}/{path.relative_to(run).as_posix()}", path.read_bytes())
    there = load_manifest(remote)
    assert there.root == remote
    assert list(there.shards()) == list(load_manifest(run).shards())
    assert list(find_problems(there)) == []
    FileSystems.delete([f"{remote}/{next(there.shards('books')).path}"])
    assert [p for p in find_problems(there) if "missing" in p] == [
        f"shard {next(there.shards('books')).path}: missing"
    ]


def test_a_side_file_entry_must_sit_in_the_folder_of_its_stage_and_reason(run):
    def relabel(entries):
        return [e | {"reason": "other"} if e["source"] == "web" else e for e in entries]

    edit_entries(run, "rejected", relabel)
    problems = list(find_problems(load_manifest(run)))
    path = "rejected/web/c4/error:ValueError/part-00000-of-00001.jsonl.gz"
    assert f"side file {path}: not under rejected/web/c4/other/" in problems[0]
    assert "rejected/web/c4/error:ValueError: 0 lines written, manifest counts 4" in problems
