"""`polymix sample DIR`: write the built-in sample corpus and its config."""

from __future__ import annotations

import argparse

from polymix.commands._arguments import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sample", help="generate the built-in sample corpus (seeded)")
    parser.add_argument("directory", help="folder to create")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale", type=positive_int, default=1, help="multiplies the number of documents"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from polymix.core.errors import UserFacingError
    from polymix.sample.generate import generate

    if Path(args.directory).exists():
        raise UserFacingError(f"{args.directory} exists; choose a new folder")
    try:
        expected = generate(args.directory, seed=args.seed, scale=args.scale)
    except BaseException:  # Ctrl-C or a failure: a half-written corpus must not look usable
        shutil.rmtree(args.directory, ignore_errors=True)
        raise
    print(f"wrote {sum(expected['input'].values())} examples and {args.directory}/polymix.yaml")
    return 0
