"""The pipeline writes through Beam's FileSystems, so gs:// behaves like a local folder."""

import shutil
from pathlib import Path

import yaml
from apache_beam.io.filesystems import FileSystems

from polymix.cli import main
from polymix.pipelines.file_io import read_bytes
from tests.support import memfs  # noqa: F401  (registers mem://)


def test_writing_to_a_non_local_filesystem_gives_the_same_bytes(demo_run, sample_corpus):
    config, _ = sample_corpus
    remote = "mem://polymix-test/run"
    assert main(["run", str(config), "--output", remote, "--overwrite"]) == 0
    local_files = sorted(
        p.relative_to(demo_run)
        for p in Path(demo_run).rglob("*")
        if p.is_file() and "report" not in p.parts  # rendered locally only
    )
    remote_files = sorted(
        m.path[len(remote) + 1 :] for m in FileSystems.match([f"{remote}/**"])[0].metadata_list
    )
    assert [str(p) for p in local_files] == remote_files
    for relative in local_files:
        assert read_bytes(f"{remote}/{relative}") == (demo_run / relative).read_bytes(), relative


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
