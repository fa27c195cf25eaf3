"""The one way media code says "this input is bad": a reason the accounting can count."""

from __future__ import annotations

# The two stages a media input can be refused by (its rejected/<stage>/ folder).
DECODE = "decode"
FILTER = "media_filter"


class MediaRejected(Exception):
    """An input refused by a decoder or filter: the stage that refused it and a short,
    machine-readable reason (the rejected/<stage>/<reason>/ folder), plus a detail."""

    def __init__(self, reason: str, detail: str = "", *, stage: str = DECODE) -> None:
        super().__init__(f"{stage}/{reason}: {detail}" if detail else f"{stage}/{reason}")
        self.reason = reason
        self.detail = detail
        self.stage = stage


class WorkBudget:
    """A count of work units (packets demuxed, frames decoded) against a configured limit.

    Decoding is bounded by what it does, never by how long it takes: a clock makes the
    decision depend on the machine's load, so the same file would be kept on an idle
    worker and rejected on a busy one. One library call is bounded by the size limits
    (bytes, pixels, seconds) checked before it; this bounds the loops around them.
    """

    def __init__(self, limit: int, unit: str, reason: str) -> None:
        self.limit = limit
        self.unit = unit
        self.reason = reason
        self.used = 0

    def spend(self, units: int = 1) -> None:
        self.used += units
        if self.used > self.limit:
            raise MediaRejected(self.reason, f"more than {self.limit} {self.unit}", stage=DECODE)
