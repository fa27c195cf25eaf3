"""A real full disk for tests: a tmpfs mounted on a test folder, shrunk to what it holds.

ENOSPC comes from the kernel exactly as on a full laptop disk. Mounting needs root (as in
CI and here); elsewhere the tests that use it are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def used_kib(path: Path) -> int:
    return shutil.disk_usage(path).used // 1024


def shrink(path: Path, free_kib: int) -> None:
    """Leave only `free_kib` KiB free on the tmpfs at `path`."""
    done = _mount("-o", f"remount,size={used_kib(path) + free_kib}k", str(path))
    assert done.returncode == 0, done.stderr


@contextmanager
def small_disk(path: Path, size_kib: int = 64 * 1024) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
