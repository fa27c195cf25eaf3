"""The same corpus and config give the same bytes from any folder."""

import shutil

import pytest

from polymix.cli import main
from tests.pipelines.test_filesystems import local_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def moved_run(sample_corpus, tmp_path_factory):
    config_path, _ = sample_corpus
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "deeper" / "corpus"
    shutil.copytree(config_path.parent, elsewhere)
    output = tmp_path_factory.mktemp("moved") / "out"  # the report names its folder
    assert main(["run", str(elsewhere / "polymix.yaml"), "--output", str(output)]) == 0
    return output


# The side lines, and every file whose bytes follow theirs: their index files, and the
# manifests, which hold those index files' checksums.
SIDE_DEPENDENT = (
    "data-a/rejected/",
    "data-a/duplicates/",
    "data-a/index/rejected/",
    "data-a/index/duplicates/",
    "data-a/manifest.json",
    "manifest.json",
)


def _split(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    side = {n: d for n, d in files.items() if n.startswith(SIDE_DEPENDENT)}
    return {n: d for n, d in files.items() if n not in side}, side


def test_a_corpus_copied_elsewhere_gives_the_same_shards_index_and_report(demo_run, moved_run):
    here, _ = _split(local_files(demo_run))
    there, _ = _split(local_files(moved_run))
    assert sorted(there) == sorted(here)
    for name, data in here.items():
        assert there[name] == data, name  # shards, their index, tokenizer copy, stats, report


def test_a_corpus_copied_elsewhere_gives_the_same_side_files_and_manifest(demo_run, moved_run):
    _, here = _split(local_files(demo_run))
    _, there = _split(local_files(moved_run))
    assert sorted(there) == sorted(here)
    for name, data in here.items():
        assert there[name] == data, name
