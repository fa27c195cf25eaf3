"""The one way media code says "this input is bad": a reason the accounting can count."""

from __future__ import annotations

import time


class MediaRejected(Exception):
    """An input refused by a decoder or filter: the stage that refused it and a short,
    machine-readable reason (the rejected/<stage>/<reason>/ folder), plus a detail."""

    def __init__(self, reason: str, detail: str = "", *, stage: str = "decode") -> None:
        super().__init__(f"{stage}/{reason}: {detail}" if detail else f"{stage}/{reason}")
        self.reason = reason
        self.detail = detail
        self.stage = stage


class Deadline:
    """A wall-clock budget checked between frames and segments.

    A single library call cannot be interrupted from Python, so each one is bounded by
    the size limits (bytes, pixels, seconds) checked before it; this bounds the loops.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def check(self, what: str) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed > self.seconds:
            raise MediaRejected(
                "decode_timeout", f"{what} after {elapsed:.1f}s (limit {self.seconds}s)"
            )
