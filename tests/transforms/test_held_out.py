"""The held-out decision: a fixed, uniform, nested function of (source, id, salt)."""

from __future__ import annotations

import os
import subprocess
import sys

from polymix.transforms.held_out import is_held_out, split_point

IDS = [f"doc-{i}" for i in range(20_000)]


def test_the_share_held_out_follows_the_fraction():
    for fraction in (0.005, 0.1, 0.5):
        held = sum(is_held_out("web", i, fraction) for i in IDS)
        assert abs(held / len(IDS) - fraction) < 4 * (fraction / len(IDS)) ** 0.5 + 1e-3


def test_fraction_zero_holds_nothing_out():
    assert not any(is_held_out("web", i, 0.0) for i in IDS)


def test_a_larger_fraction_only_adds_examples():
    small = {i for i in IDS if is_held_out("web", i, 0.01)}
    large = {i for i in IDS if is_held_out("web", i, 0.05)}
    assert small < large


def test_source_and_salt_draw_different_sets():
    base = {i for i in IDS if is_held_out("web", i, 0.1)}
    assert base != {i for i in IDS if is_held_out("books", i, 0.1)}
    assert base != {i for i in IDS if is_held_out("web", i, 0.1, salt="b")}


def test_the_same_point_in_another_process():
    """No per-process hash seed enters (Python's `hash()` would differ here)."""
    code = "from polymix.transforms.held_out import split_point as p; print(repr(p('web', 'x\\u00e9', 's')))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert float(out.stdout) == split_point("web", "x\u00e9", "s")


def test_ids_that_utf8_cannot_encode_still_have_a_place():
    assert 0.0 <= split_point("web", "bad\udcff") < 1.0
