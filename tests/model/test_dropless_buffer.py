"""A bounded dropless receive buffer: what fits, what is dropped, and that it is counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from polymix.model.moe_dropless import fitting_sizes, receive_rows

SCRIPT = Path(__file__).with_name("bounded_buffer_check.py")
ROOT = Path(__file__).resolve().parents[2]


def test_receive_rows_is_the_worst_case_unless_bounded() -> None:
    assert receive_rows(100, 4, 0.0) == 400
    assert receive_rows(100, 4, 1.25) == 125
    assert receive_rows(100, 2, 3.0) == 200  # never past the worst case


def test_slices_land_in_source_order_and_the_tail_is_dropped() -> None:
    # sent[source, destination]: destination 0 gets 3 + 4 + 2 rows into a buffer of 5.
    sent = jnp.array([[3, 1], [4, 1], [2, 1]], jnp.int32)
    fits = np.asarray(fitting_sizes(sent, 5))
    np.testing.assert_array_equal(fits, [[3, 1], [2, 1], [0, 1]])


@pytest.mark.slow
def test_bounded_buffer_drops_and_counts_what_does_not_fit() -> None:
    """Two `expert` peers, factor 0 / 0.5 / 0.8 of a device's own assignments: the layer's
    output equals the dense mixture of the assignments a NumPy account says fit, and
    `dropped_fraction` is the share that did not (0, 50%, 20% here)."""
    flags = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
    env = {**os.environ, "XLA_FLAGS": flags}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert report["0.0"]["dropped"] == 0.0
    assert report["0.5"]["expected_dropped"] == pytest.approx(0.5)
    assert 0.05 < report["0.8"]["expected_dropped"] < 0.5
    for factor, r in report.items():
        assert r["dropped"] == pytest.approx(r["expected_dropped"], abs=1e-6), factor
        assert r["max_abs_diff"] <= 1e-6 * max(1.0, r["max_abs_out"]) + 1e-7, factor
