"""`polymix sample --output DIR`: write the built-in sample corpus and its config.

Where a command writes is `--output` everywhere; `polymix sample DIR` is the older
spelling and still works.
"""

from __future__ import annotations

import argparse

from polymix.commands._arguments import positive_int
from polymix.commands._output import add_json_flag, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sample", help="generate the built-in sample corpus (seeded)")
    parser.add_argument("directory", nargs="?", help=argparse.SUPPRESS)  # the older spelling
    parser.add_argument("--output", help="folder to create")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale", type=positive_int, default=1, help="multiplies the number of documents"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from polymix.core.errors import UserFacingError
    from polymix.sample.generate import generate

    args.directory = _directory(args)
    if Path(args.directory).exists():
        raise UserFacingError(f"{args.directory} exists; choose a new folder")
    try:
        expected = generate(args.directory, seed=args.seed, scale=args.scale)
    except BaseException:  # Ctrl-C or a failure: a half-written corpus must not look usable
        shutil.rmtree(args.directory, ignore_errors=True)
        raise
    examples = sum(expected["input"].values())
    config = f"{args.directory}/polymix.yaml"
    if args.json:
        print_json({"examples": examples, "by_source": expected["input"], "config": config})
    else:
        print(f"wrote {examples} examples and {config}")
    return 0


def _directory(args: argparse.Namespace) -> str:
    from polymix.core.errors import UserFacingError

    if args.output and args.directory and args.output != args.directory:
        raise UserFacingError(f"two folders given ({args.directory}, --output {args.output})")
    if not (args.output or args.directory):
        raise UserFacingError("name the folder to create with --output DIR")
    return args.output or args.directory
