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
