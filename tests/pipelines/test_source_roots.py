"""File ids are relative to the source's root, so no id names the folder or bucket data sits in."""

import pytest

from polymix.pipelines.read import SourceRoots, glob_root


@pytest.mark.parametrize(
    "pattern, root",
    [
        ("/data/web/*.jsonl.gz", "/data/web"),
        ("/data/web/**/part-?.jsonl", "/data/web"),
        ("/data/web/file.jsonl", "/data/web"),
        ("/data/web-[0-9]*/a.jsonl", "/data"),
        ("gs://bucket/corpus/web/*.jsonl", "gs://bucket/corpus/web"),
        ("gs://bucket/*.jsonl", "gs://bucket"),
    ],
)
def test_a_globs_root_is_the_folder_before_its_first_wildcard(pattern, root):
    assert glob_root(pattern) == root


@pytest.mark.parametrize("prefix", ["/home/a/corpus", "/mnt/elsewhere/deeper", "gs://bucket/x"])
def test_the_same_layout_gives_the_same_ids_wherever_it_lies(prefix):
    roots = SourceRoots([f"{prefix}/web/*.jsonl", f"{prefix}/web/old/*.jsonl.gz"])
    assert roots.file_id(f"{prefix}/web/a.jsonl") == "a.jsonl"
    assert roots.file_id(f"{prefix}/web/old/b.jsonl.gz") == "old/b.jsonl.gz"


def test_sibling_globs_share_their_parent_so_equal_names_stay_apart():
    roots = SourceRoots(["/c/2023/*.jsonl", "/c/2024/*.jsonl"])
    assert roots.file_id("/c/2023/x.jsonl") == "2023/x.jsonl"
    assert roots.file_id("/c/2024/x.jsonl") == "2024/x.jsonl"


def test_globs_on_different_buckets_number_their_roots_instead_of_naming_them():
    roots = SourceRoots(["gs://one/web/*.jsonl", "gs://two/web/*.jsonl", "/local/web/*.jsonl"])
    assert roots.file_id("gs://one/web/a.jsonl") == "0/a.jsonl"
    assert roots.file_id("gs://two/web/a.jsonl") == "1/a.jsonl"
    assert roots.file_id("/local/web/a.jsonl") == "2/a.jsonl"


def test_undecodable_bytes_in_a_file_name_give_an_id_that_encodes():
    name = b"caf\xe9.jsonl".decode("utf-8", "surrogateescape")
    file_id = SourceRoots(["/d/*.jsonl"]).file_id(f"/d/{name}")
    assert file_id == "caf\\udce9.jsonl" and file_id.encode("utf-8")
