"""Clipping measured on decoded samples, before resampling rounds off the flat tops."""

from __future__ import annotations

from typing import Any

import numpy as np

from polymix.transforms.media.errors import FILTER, MediaRejected


def check_clipping(signal: np.ndarray, config: Any) -> None:
    clipped = float(np.mean(np.abs(signal) >= config.clip_level)) if signal.size else 0.0
    if clipped > config.max_clipped_fraction:
        raise MediaRejected(
            "clipped", f"{clipped:.3f} of samples >= {config.clip_level}", stage=FILTER
        )
