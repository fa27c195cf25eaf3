"""Suite-wide collection rules."""

from __future__ import annotations

import pytest

# Session fixtures that run a whole pipeline: every test using one goes to the same xdist
# worker (`--dist loadgroup`), so the run is made once rather than once per worker.
EXPENSIVE_SESSION_FIXTURES = ("demo_run",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        shared = [f for f in EXPENSIVE_SESSION_FIXTURES if f in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
