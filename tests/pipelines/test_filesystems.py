"""The pipeline writes through Beam's FileSystems: a gs:// output (a real GCS emulator) holds
the same bytes as a local one, and object-store prefixes are not mistaken for folders."""

import shutil

import pytest
import yaml
from apache_beam.io.filesystems import FileSystems

from polymix.cli import main
from polymix.pipelines import object_store
from polymix.pipelines.file_io import read_bytes, write_bytes
from polymix.run_lock import create_exclusive
from tests.support.gcs_emulator import BUCKET


def local_files(root) -> dict[str, bytes]:
    """Every file of a run by relative path: nothing in a run depends on when it ran."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def remote_files(prefix: str) -> dict[str, bytes]:
    return {path[len(prefix) + 1 :]: read_bytes(path) for path in object_store.list_files(prefix)}


def test_prefixes_are_not_folders_on_gcs(gcs):
    root = f"gs://{BUCKET}/prefixes"
    for name in ("shards/web/a", "shards/web/b", "shards-old/c", "stats.json"):
        write_bytes(f"{root}/{name}", name.encode())
    assert not FileSystems.exists(f"{root}/shards")  # what used to hide a previous run
    assert object_store.has_any(f"{root}/shards") and not object_store.has_any(f"{root}/no")
    assert object_store.top_level_names(root) == ["shards", "shards-old", "stats.json"]
    under = [f"{root}/shards/web/a", f"{root}/shards/web/b"]
    assert sorted(object_store.iter_files(f"{root}/shards")) == under
    assert object_store.list_some(f"{root}/shards", 10) == under
    assert len(object_store.list_some(f"{root}/shards", 1)) == 1
    deleted = object_store.delete_files([*under, f"{root}/shards/web/never-written"])
    assert (deleted.asked, deleted.failures) == (3, 0)  # an absent name is not a failure
    for name in ("shards/web/a", "shards/web/b"):
        write_bytes(f"{root}/{name}", name.encode())
    object_store.delete_tree(f"{root}/shards")
    assert object_store.list_files(root) == [f"{root}/shards-old/c", f"{root}/stats.json"]
    object_store.move_tree(f"{root}/shards-old", f"{root}/moved")
    assert object_store.list_files(root) == [f"{root}/moved/c", f"{root}/stats.json"]


def test_an_exclusive_create_on_gcs_refuses_the_second_writer(gcs):
    path = f"gs://{BUCKET}/lease-race/.polymix-lease"
    assert create_exclusive(path, b"first")
    assert not create_exclusive(path, b"second")
    assert read_bytes(path) == b"first"


@pytest.mark.slow  # a whole run against the emulator: ~80 s on a busy 2-core machine
def test_writing_to_gcs_gives_the_same_bytes(demo_run, sample_corpus, gcs):
    config, _ = sample_corpus
    remote = f"gs://{BUCKET}/same-bytes/{demo_run.name}"  # the report names its folder
    assert main(["run", str(config), "--output", remote]) == 0
    local, written = local_files(demo_run), remote_files(remote)
    assert sorted(written) == sorted(local)
    for relative, data in local.items():
        assert written[relative] == data, relative


@pytest.mark.slow  # translating the whole graph for Dataflow: ~1 min
def test_dry_run_builds_every_stage_for_dataflow_with_gs_paths(sample_corpus, tmp_path, capsys):
    config_path, _ = sample_corpus
    root = tmp_path / "corpus"
    shutil.copytree(config_path.parent, root)
    raw = yaml.safe_load((root / "polymix.yaml").read_text())
    for source in raw["sources"]:
        source["paths"] = [f"gs://polymix-fake-bucket/{p}" for p in source["paths"]]
    (root / "polymix.yaml").write_text(yaml.safe_dump(raw))
    args = [
        "run",
        str(root / "polymix.yaml"),
        "--output",
        "gs://polymix-fake-bucket/out",
        "--dry-run",
    ]
    dataflow = ["--runner=DataflowRunner", "--project=polymix-test", "--region=us-central1"]
    dataflow += ["--temp_location=gs://polymix-fake-bucket/tmp"]
    assert main(args + dataflow) == 0
    printed = capsys.readouterr().out
    for stage in [
        "Read[web]",
        "Read[books]",
        "Read[code]",
        "Normalize",
        "Dedup/Exact",
        "Tokenize",
    ]:
        assert f"\n{stage}\n" in printed
    for stage in ["WriteShards/Write", "WriteRejected/Write", "WriteDuplicates/Write", "Manifest"]:
        assert f"\n{stage}" in printed
    assert "nothing was run" in printed
    assert main(args + ["--runner=DataflowRunner", "--project=Not A Project"]) == 2


def test_media_paths_of_a_config_in_a_bucket_stay_in_the_bucket():
    from polymix.pipelines.media import _resolve

    resolved = _resolve(["videos/*.mp4", "../shared/*.wav", "/abs/*.png"], "gs://b/e2e/corpus")
    assert resolved == ["gs://b/e2e/corpus/videos/*.mp4", "gs://b/e2e/shared/*.wav", "/abs/*.png"]
    assert _resolve(["videos/*.mp4"], "/data/corpus") == ["/data/corpus/videos/*.mp4"]
