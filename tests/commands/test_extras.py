"""A command whose extra is not installed says which one to install, in one line.

The core install runs the pipeline; the trainer's packages come with `polymix[train]` and
Google Cloud's with `polymix[dataflow]`. Here the missing package is made unimportable in
a child interpreter (`sys.modules[name] = None`, what Python does for a blocked import).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from polymix.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _polymix_without(missing: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT, missing, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("missing", "argv", "extra"),
    [
        ("jax", ["model-info", "--model", "tiny"], "polymix[train]"),
        ("optax,jax", ["train", "out", "--output", "ckpt"], "polymix[train]"),
    ],
)
def test_a_missing_extra_is_named_in_one_line(missing, argv, extra):
    done = _polymix_without(missing, *argv)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and extra in lines[0]
    assert any(name in lines[0] for name in missing.split(","))


def test_help_needs_no_extra():
    done = _polymix_without("jax,optax,grain,orbax,google.cloud", "train", "--help")
    assert done.returncode == 0 and "peak_lr=" in done.stdout
