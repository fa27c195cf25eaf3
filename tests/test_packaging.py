"""Dataflow workers install polymix from the sdist Beam builds with --setup_file."""

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_file_sdist_carries_every_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "sdist",
            "-d",
            str(tmp_path),
            "egg_info",
            "--egg-base",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (archive,) = tmp_path.glob("polymix-*.tar.gz")
    with tarfile.open(archive) as sdist:
        names = sdist.getnames()
    for module in [
        "polymix/cli.py",
        "polymix/pipelines/corpus.py",
        "polymix/transforms/record_codec.py",
        "polymix/model/batch.py",
    ]:
        assert any(n.endswith(module) for n in names), module
