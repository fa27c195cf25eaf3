"""One builder at a time per cache folder: parallel test workers share `~/.cache/polymix`.

A second process waits for the first to finish, then finds the cache built. `flock` is
released by the kernel if the builder dies, so a killed build never leaves the lock held.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def building(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
