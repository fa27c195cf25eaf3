"""How a command prints its figures: sentences for people, or one JSON document with `--json`.

With `--json`, stdout carries exactly one JSON document (so `polymix verify --json | jq`
works) and everything else a command would say goes to stderr. Keys are sorted and the
text is UTF-8, so the same result prints the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON document on stdout"
    )


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def say(args: argparse.Namespace, text: str) -> None:
    """A line for people: stdout normally, stderr under `--json` so stdout stays parseable."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


@contextlib.contextmanager
def json_only_on_stdout(args: argparse.Namespace) -> Iterator[None]:
    """Under `--json`, whatever the work prints goes to stderr; the document comes after."""
    if not getattr(args, "json", False):
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
