"""Which kept examples are held out for evaluation: a pure function of the example's id.

The decision hashes `(salt, source, id)` with sha256 and maps the first 8 bytes to
[0, 1); an example is held out when that point falls below `fraction`. Nothing else
enters, so the same example lands on the same side on any runner, worker count or
machine, and a larger fraction only adds examples to the held-out side (the point
stays put while the threshold grows). Records are decided by their example's id, so
the records of one long document never straddle the split.
"""

from __future__ import annotations

import hashlib

_SCALE = float(2**64)


def split_point(source: str, example_id: str, salt: str = "") -> float:
    """The example's place in [0, 1): uniform over ids, fixed for (salt, source, id)."""
    key = "\x1f".join((salt, source, example_id)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / _SCALE


def is_held_out(source: str, example_id: str, fraction: float, salt: str = "") -> bool:
    """True when the example belongs to the evaluation split; fraction 0 holds none out."""
    return fraction > 0 and split_point(source, example_id, salt) < fraction
