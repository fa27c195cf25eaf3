"""An exception raised while handling one example, as a rejection reason and a stable detail.

The reason is `error:<ExceptionType>`, so failures are counted by kind. The detail is
the traceback, made byte-identical across machines and runs: frames name files
relative to their package (`polymix/...`, `apache_beam/...`), never the folder polymix
or Python happens to be installed in, and object addresses are stripped (see
`side_records.stable_detail`). Only the frames from the catching stage down to the
raise are shown, so the runner's own call stack (which differs between runners)
never appears.
"""

from __future__ import annotations

import os
import traceback

from polymix.transforms.example import Example, Rejection

_MESSAGE_CHARS = 2000
_PACKAGE_MARKERS = ("/site-packages/", "/dist-packages/")


def failure_reason(exc: BaseException) -> str:
    return f"error:{type(exc).__name__}"


def _short_file(filename: str) -> str:
    normalized = filename.replace(os.sep, "/")
    for marker in _PACKAGE_MARKERS:
        if marker in normalized:
            return normalized.rsplit(marker, 1)[1]
    if "/polymix/" in normalized:
        return "polymix/" + normalized.rsplit("/polymix/", 1)[1]
    return normalized.rsplit("/", 1)[-1]


def _summary(exc: BaseException) -> str:
    message = str(exc)
    if len(message) > _MESSAGE_CHARS:
        message = f"{message[:_MESSAGE_CHARS]}... [{len(message) - _MESSAGE_CHARS} more characters]"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def failure_detail(exc: BaseException) -> str:
    """The traceback of `exc` (and of its cause), with install-independent file names."""
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        lines.append(f"  {_short_file(frame.filename)}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines.append(_summary(exc))
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        lines.append(f"caused by {_summary(cause)}")
    return "\n".join(lines)


def failed(example: Example, stage: str, exc: BaseException) -> Rejection:
    """`example` rejected at `stage` because handling it raised `exc`."""
    return Rejection(example, stage, failure_reason(exc), failure_detail(exc))
