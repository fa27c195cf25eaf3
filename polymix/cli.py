"""The `polymix` command.

Each sub-command lives in its own module under `polymix/commands/` and exposes
`register(subparsers)`; the command imports its heavy dependencies (Beam, JAX) only
when it runs, so `polymix --help` and `polymix verify` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from polymix import commands
from polymix.core.errors import UserFacingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polymix",
        description="Multimodal corpus -> deduplicated, filtered ArrayRecord shards -> JAX MoE trainer.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except UserFacingError as exc:
        print(f"polymix {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
