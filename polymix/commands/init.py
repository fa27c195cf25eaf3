"""`polymix init my.yaml`: write a fully commented example config."""

from __future__ import annotations

import argparse
from pathlib import Path

from polymix.core.errors import UserFacingError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("init", help="write an example config documenting every key")
    parser.add_argument("path", help="where to write the YAML file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.config.example import example_config_yaml

    path = Path(args.path)
    if path.exists() and not args.force:
        raise UserFacingError(f"{path} exists; pass --force to overwrite it")
    path.write_text(example_config_yaml())
    print(f"wrote {path}")
    return 0
