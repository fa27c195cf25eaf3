"""The sub-commands: each module here exposes `register(subparsers)` and a handler.

The parser lives here, below `polymix.cli`, so a command that runs other commands
(`demo`) can parse their command lines without importing the entry point above it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (argparse adds the whole usage above it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def installed_version() -> str:
    try:
        return version("polymix")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="polymix",
        description="Multimodal corpus -> deduplicated, filtered ArrayRecord shards -> JAX MoE trainer.",
    )
    parser.add_argument("--version", action="version", version=f"polymix {installed_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands = [m for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for info in sorted(commands, key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line as a namespace; extra arguments only for commands that pass them on."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    return args


def run_command_line(argv: list[str]) -> int:
    """Parse and run one command line; errors travel up to the caller's handling."""
    args = parse(argv)
    return int(args.handler(args) or 0)
