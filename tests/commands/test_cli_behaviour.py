"""How the `polymix` process ends: a version, Ctrl-C, a closed pipe, and every bad invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from polymix.cli import BROKEN_PIPE, INTERRUPTED, main
from polymix.commands import verify
from polymix.commands._beam_flags import beam_parser, unknown_beam_flags

ROOT = Path(__file__).resolve().parents[2]


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as done:
        return int(done.code or 0)


def test_version(capsys):
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"polymix {version('polymix')}"


def test_ctrl_c_in_a_command_is_130_and_one_line(monkeypatch, capsys):
    def interrupted(args):
        print("working", flush=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "handle", interrupted)
    assert main(["verify", "out/manifest.json"]) == INTERRUPTED == 130
    assert capsys.readouterr().err.splitlines() == ["polymix verify: interrupted"]


def test_ctrl_c_while_sampling_leaves_no_partial_folder(monkeypatch, tmp_path, capsys):
    def generate_then_interrupt(directory, **settings):
        Path(directory, "web").mkdir(parents=True)
        Path(directory, "web", "half.jsonl").write_text("{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr("polymix.sample.generate.generate", generate_then_interrupt)
    assert main(["sample", str(tmp_path / "corpus")]) == 130
    assert not (tmp_path / "corpus").exists()


SHORT_OUTPUT = """
import sys
from polymix.commands import verify
verify.handle = lambda args: print("one short line")  # stays in the buffer until exit
from polymix.cli import main
sys.exit(main(sys.argv[1:]))
"""
ENTRY = "import sys\nfrom polymix.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _into_closed_pipe(script: str, argv: list[str]) -> subprocess.CompletedProcess:
    """Run with stdout a pipe nobody reads any more: `polymix ... | head -0`."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    # A user's shell buffers stdout; PYTHONUNBUFFERED would hide a failure at exit.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(ROOT)
    try:
        return subprocess.run(
            [sys.executable, "-c", script, *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "script, argv",
    [
        (SHORT_OUTPUT, ["verify", "m.json"]),
        (ENTRY, ["model-info", "--model", "demo"]),
        (ENTRY, ["--help"]),
        (ENTRY, ["plan", "--help"]),
    ],
    ids=["buffered-line", "model-info", "help", "sub-help"],
)
def test_a_closed_pipe_ends_quietly(script, argv):
    done = _into_closed_pipe(script, argv)
    assert done.stderr.decode() == ""
    assert done.returncode in (0, BROKEN_PIPE)
    if argv[0] != "--help" and argv[-1] != "--help":  # argparse swallows a failed help write
        assert done.returncode == BROKEN_PIPE


def test_the_flags_the_readme_passes_to_beam_are_known():
    flags = "--runner DataflowRunner --project PROJECT --region us-central1"
    flags += " --temp_location gs://BUCKET/tmp --direct_num_workers=2 --experiments=a"
    flags += " --no_use_public_ips --direct_running_mode=multi_processing --setup_file ./setup.py"
    assert unknown_beam_flags(beam_parser(), flags.split()) == []


def _bad_invocations(tmp: Path) -> list[list[str]]:
    """Every documented command, invoked wrongly; each must be one line and exit 2."""
    config, out = str(tmp / "my.yaml"), str(tmp / "out")
    run = ["run", config, "--output", out]
    return [
        [],
        ["nosuch"],
        ["run"],
        ["run", config],
        [*run, "--runer=DataflowRunner"],
        [*run, "--runer", "DataflowRunner"],
        [*run, "--direct_num_workers"],
        [*run, "--direct_num_workers=two"],
        [*run, "--flexrs_goal=FAST"],
        [*run, "stray"],
        run,  # no such config
        ["report", out, "--max-epochs", "0"],
        ["report", out, "--budget", "0"],
        ["report", out, "--budget", "-2e9"],
        ["report", out, "--budget", "nan"],
        ["report", out, "--budget", "lots"],
        ["report", out],  # no manifest
        ["sample", str(tmp / "corpus"), "--scale", "0"],
        ["sample", str(tmp / "corpus"), "--scale", "-1"],
        ["verify"],
        ["verify", str(tmp / "out" / "manifest.json")],
        ["init"],
        ["tokenizer"],
        ["tokenizer", "train", config],
        ["classifier"],
        ["classifier", "train", "--positive", "p", "--negative", "n", "--output", "q.bin"],
        ["tag"],
        ["train", "--manifest", "m.json"],
        ["train", "--manifest", "m.json", "--checkpoint-dir", str(tmp / "c"), "no_such_key=1"],
        ["plan", "--model", "demo", "--chips", "0", "--tokens", "2T"],
        ["plan", "--model", "demo", "--chips", "8", "--tokens", "lots"],
        ["model-info", "--model", "nosuch"],
        ["model-info", "--model", "demo", "--seq-len", "0"],
        ["demo", "--output", str(tmp / "demo"), "--scale", "0"],
        ["demo", "--output", str(tmp / "demo"), "--runer=DataflowRunner"],
    ]


def test_every_bad_invocation_is_one_line_and_exit_2(tmp_path, capsys):
    failures = []
    for argv in _bad_invocations(tmp_path):
        code = _exit_code(argv)
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        if code != 2 or len(lines) != 1 or "Traceback" in captured.err:
            failures.append(f"polymix {' '.join(argv)} -> {code}: {captured.err!r}")
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "corpus").exists() and not (tmp_path / "demo").exists()


def test_unknown_beam_flag_is_named_with_the_likely_one(capsys):
    assert main(["run", "my.yaml", "--output", "out", "--runer=DataflowRunner"]) == 2
    assert capsys.readouterr().err == (
        "polymix run: error: unknown Beam pipeline option --runer=DataflowRunner"
        " (did you mean --runner?)\n"
    )
