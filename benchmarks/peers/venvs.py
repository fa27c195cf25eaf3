"""A cached virtual environment for a peer that needs another Python than polymix's 3.11.

text-dedup 0.4.1 requires Python 3.12 (it uses `type X = ...` statements), and its
dependencies (polars, datasets 4+, pydantic-settings) would not share polymix's pinned
environment anyway. Built once under ~/.cache/polymix/peers/ (or $XDG_CACHE_HOME), with a
lock so parallel runs build it once; removed by deleting that folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.cache_lock import building  # noqa: E402

TEXT_DEDUP = "text-dedup==0.4.1"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "polymix" / "peers"


def find_python(version: str = "3.12") -> str | None:
    """An interpreter of `version` that runs: on PATH, or one of pyenv's installed versions."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python3")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import venv"], capture_output=True)
        if probe.returncode == 0:  # a pyenv shim of a version not selected exits 127
            return candidate
    return None


def peer_python(requirement: str = TEXT_DEDUP, version: str = "3.12") -> Path | None:
    """The venv's interpreter with `requirement` installed, or None without a Python `version`."""
    interpreter = find_python(version)
    if interpreter is None:
        return None
    folder = cache_root() / requirement.replace("==", "-")
    done = folder / ".installed"
    with building(folder.parent):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run([interpreter, "-m", "venv", str(folder)], check=True)
            pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, requirement], check=True)
            done.touch()
    return folder / "bin" / "python"
