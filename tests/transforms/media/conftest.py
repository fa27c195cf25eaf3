"""Shared settings for the media transform tests: the config defaults, one seeded picture."""

from __future__ import annotations

import numpy as np
import pytest

from polymix.core.config.media import MediaConfig
from polymix.sample.media import synthetic_image


@pytest.fixture
def media() -> MediaConfig:
    return MediaConfig()


@pytest.fixture(scope="module")
def pictures():
    rng = np.random.default_rng(11)
    return [
        synthetic_image(rng, int(rng.integers(140, 240)), int(rng.integers(140, 240)))
        for _ in range(12)
    ]
