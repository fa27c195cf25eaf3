"""Every command line README's CLI section shows is one the parser accepts, as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from polymix.commands import parse

README = Path(__file__).resolve().parents[2] / "README.md"


def _cli_section_lines() -> list[list[str]]:
    section = README.read_text().split("## With your own data", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("polymix ")]


def test_the_readme_command_lines_parse():
    lines = _cli_section_lines()
    assert len(lines) >= 10
    for argv in lines:
        argv = [a for a in argv if not (a.startswith("[") or a.endswith("]"))]
        args = parse(argv)  # exits 2 (a test failure) on a line the parser refuses
        assert callable(args.handler), argv


def test_train_reads_the_run_first_and_writes_to_output():
    (argv,) = [a for a in _cli_section_lines() if a[0] == "train"]
    args = parse(argv)
    assert args.arguments[0] == "out/" and args.checkpoint_dir == "ckpt"
