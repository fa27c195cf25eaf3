"""`polymix demo` runs its steps through the command line of each command."""

import polymix.commands.run as run_command
import polymix.commands.sample as sample_command
from polymix.cli import main


def test_demo_runs_each_step_as_its_command_and_stops_at_a_failure(tmp_path, monkeypatch):
    seen = []

    def failing_sample(args):
        seen.append(args.command)
        return 3

    monkeypatch.setattr(sample_command, "handle", failing_sample)
    assert run_command.handle  # the `run` command's module is loaded, as in a real process
    assert main(["demo", "--output", str(tmp_path / "demo")]) == 3
    assert seen == ["sample"]


def test_every_demo_step_is_a_command_line_the_parser_accepts(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from polymix import commands

    parsed = []

    def parse_only(argv):
        parsed.append(commands.parse(argv))  # exits 2 on a line the parser refuses
        return 0

    monkeypatch.setattr(commands, "run_command_line", parse_only)
    monkeypatch.setattr(
        "polymix.core.manifest.load_manifest", lambda run: SimpleNamespace(root=run)
    )
    assert main(["demo", "--output", str(tmp_path / "demo")]) == 0
    names = [a.command for a in parsed]
    assert names == [
        *("sample", "tokenizer", "classifier", "run", "verify", "model-info", "train"),
        *("ablate", "report"),
    ]
    train = parsed[-3]
    assert train.checkpoint_dir == str(tmp_path / "demo" / "train")
    assert "global_batch_size=4" in [*train.arguments, *train.extra]


def test_the_demo_trains_its_proxies_side_by_side(tmp_path, monkeypatch):
    from polymix import commands
    from polymix.ablation import runner

    real = commands.run_command_line
    settings = []

    def only_ablate(argv):
        return real(argv) if argv[0] == "ablate" else 0

    def recorded(manifest, output, given):
        settings.append(given)
        return None  # as a stopped sweep: the demo ends there

    monkeypatch.setattr(commands, "run_command_line", only_ablate)
    monkeypatch.setattr("polymix.ablation.sweep.run_ablation", recorded)
    assert main(["demo", "--output", str(tmp_path / "demo")]) == 130
    [given] = settings
    assert (given.proxies, given.steps, given.side_by_side) == (8, 30, 8)

    ways = []
    monkeypatch.setattr(runner, "run_one_by_one", lambda *a: ways.append("one by one"))
    monkeypatch.setattr(runner, "run_side_by_side", lambda *a: ways.append("side by side"))
    runner.run_proxies(tmp_path, tmp_path, given, [], [], print)
    assert ways == ["side by side"]
