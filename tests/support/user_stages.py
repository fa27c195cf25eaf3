"""Filters written the way a user writes them: a module outside the package, put on sys.path.

`shouting` is named in config by import path; `quiet` is registered through a `polymix.stages`
entry point of a distribution whose metadata (`*.dist-info/entry_points.txt`) sits in the same
folder, which is how `importlib.metadata` finds an installed package.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MODULE = "loudness_filters"

SOURCE = '''
import polymix


class Shouting:
    """Rejects text whose letters are mostly capitals."""

    name = "shouting"

    def __init__(self, max_upper_ratio=0.5):
        self.cuts = (polymix.Cut("too_loud", "upper_ratio", ">", max_upper_ratio),)

    def tag(self, doc):
        letters = [c for c in doc.text if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        return polymix.Tags({"upper_ratio": upper / len(letters) if letters else 0.0})

    def decide(self, attributes):
        return [cut.reason for cut in self.cuts if cut.fails(attributes[cut.attribute])]


class Quiet:
    """Rejects text carrying the marker; cannot judge (raises on) text saying BOOM."""

    name = "quiet"
    cuts = (polymix.Cut("marked", "markers", ">", 0),)

    def tag(self, doc):
        if "BOOM" in doc.text:
            raise ValueError("quiet cannot judge this document")
        return polymix.Tags({"markers": doc.text.count("XYZZY")})

    def decide(self, attributes):
        return [cut.reason for cut in self.cuts if cut.fails(attributes[cut.attribute])]


class NoDecide:
    name = "no_decide"
    cuts = ()

    def tag(self, doc):
        return polymix.Tags({})
'''

ENTRY_POINTS = f"[polymix.stages]\nquiet = {MODULE}:Quiet\n"
METADATA = "Metadata-Version: 2.1\nName: loudness-filters\nVersion: 1.0\n"


def write_user_stages(folder: Path) -> Path:
    """The module and its distribution's metadata in `folder`; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODULE}.py").write_text(SOURCE)
    dist = folder / "loudness_filters-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(METADATA)
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return folder


@contextlib.contextmanager
def user_stages_on_path(folder: Path) -> Iterator[Path]:
    """The user's folder on sys.path for the duration; its module forgotten afterwards."""
    patch = pytest.MonkeyPatch()
    try:
        patch.syspath_prepend(str(write_user_stages(folder)))
        importlib.invalidate_caches()
        yield folder
    finally:
        patch.undo()
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()
