"""Flags passed through to Beam must be flags Beam knows.

Beam drops an option it does not recognise with a log warning, so `--runer=DataflowRunner`
would quietly run on the laptop's DirectRunner. The flags are parsed with Beam's own
parser (every registered `PipelineOptions` class, abbreviations off, exactly as Beam
parses them) and anything left over is the user's typo.
"""

from __future__ import annotations

import argparse
import difflib
from typing import NoReturn

from polymix.core.errors import UserFacingError


def beam_parser() -> argparse.ArgumentParser:
    """The parser Beam builds in `PipelineOptions.get_all_options`, caught through its hook."""
    import apache_beam  # noqa: F401  (registers the options of every runner and IO)
    from apache_beam.options.pipeline_options import PipelineOptions

    caught: list[argparse.ArgumentParser] = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=caught.append)
    parser = caught[0]
    parser.error = _refuse  # one line instead of Beam's 120-line usage and an exit
    return parser


def _refuse(message: str) -> NoReturn:
    raise UserFacingError(f"Beam pipeline options: {message}")


def unknown_beam_flags(parser: argparse.ArgumentParser, flags: list[str]) -> list[str]:
    """The tokens Beam would not recognise: unknown flags and stray words."""
    _, leftover = parser.parse_known_args(flags)
    unknown: list[str] = []
    for i, token in enumerate(leftover):
        previous = leftover[i - 1] if i else ""
        is_value = previous.startswith("-") and "=" not in previous
        if token.startswith("-") or not is_value:
            unknown.append(token)
    return unknown


def check_beam_flags(flags: list[str]) -> None:
    """Raise a one-line error naming the first flag Beam would ignore."""
    if not flags:
        return
    parser = beam_parser()
    unknown = unknown_beam_flags(parser, flags)
    if not unknown:
        return
    first = unknown[0]
    known = [o for action in parser._actions for o in action.option_strings]
    close = difflib.get_close_matches(first.split("=", 1)[0], known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    if not first.startswith("-"):
        raise UserFacingError(f"unrecognized argument {first!r} (Beam takes only --flags)")
    raise UserFacingError(f"unknown Beam pipeline option {first}{hint}")
