"""The whole pipeline on the hostile-input corpus: it completes, counts everything, stays small.

The run happens in a child process so its peak memory is measured on its own, against
the same run without the bomb, the zeros and the 50 MB line in the same test (Beam, the
models and the run's own data: ~875 MiB measured here). The allowance, per
`polymix/core/config/read.py`: the reader holds at
most ~10 x `read.max_line_bytes` for the line in flight (its bytes, decoded text and
parsed text); and DirectRunner keeps every collection between fused stages in memory,
so the `read.max_decompressed_bytes` a bomb may expand to live in several copies
(~12 measured). Without these bounds the 50 MB line alone took 3.2 GB and the gzip
bomb 6.4 GB.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from polymix.cli import main
from polymix.core.manifest import load_manifest
from tests.support.hostile import READ_LIMITS, write_hostile_corpus
from tests.support.run_layout import data_root

# What the hostile inputs may add to a run's peak over the same run without them.
HOSTILE_ALLOWANCE = 10 * READ_LIMITS["max_line_bytes"] + 16 * READ_LIMITS["max_decompressed_bytes"]
BOUNDED_FILES = ("bomb.jsonl.gz", "zeros.jsonl.gz", "mixed.jsonl")  # the bomb, zeros, 50 MB line
_RUN_AND_MEASURE = """
import json, re, resource, sys
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # forget the peak inherited from the forking parent (pytest, after other tests)
from polymix.cli import main
code = main(["run", sys.argv[1], "--output", sys.argv[2]])
with open("/proc/self/status") as f:
    peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", f.read()).group(1)) * 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": code, "peak": max(peak, children)}))
"""


pytestmark = pytest.mark.slow  # a 50 MB line, a 2 GiB bomb, a tokenizer and two runs: ~2-3 min


def _measured_run(config: Path, output: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run(
        [sys.executable, "-c", _RUN_AND_MEASURE, str(config), str(output)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    config, part = write_hostile_corpus(root)
    assert (
        main(["tokenizer", "train", str(config), "--allow-smaller"]) == 0
    )  # reads the same hostile sources
    output = root.parent / "out"
    return output, part, _measured_run(config, output)


@pytest.fixture(scope="module")
def baseline_peak(tmp_path_factory) -> int:
    """The same run without the inputs the read bounds are for: Beam, models, the rest."""
    root = tmp_path_factory.mktemp("baseline") / "corpus"
    config, _ = write_hostile_corpus(root)
    for name in BOUNDED_FILES:
        (next(root.rglob(name))).unlink()
    assert main(["tokenizer", "train", str(config), "--allow-smaller"]) == 0
    return _measured_run(config, root.parent / "out")["peak"]


def _side_lines(output: Path) -> Counter:
    counts: Counter = Counter()
    root = data_root(output)
    paths = [*root.glob("rejected/**/*.jsonl.gz"), *root.glob("duplicates/**/*.jsonl.gz")]
    for path in sorted(paths):
        with gzip.open(path, "rb") as handle:
            for raw in handle:
                row = json.loads(raw.decode("utf-8"))  # every side line is valid UTF-8 JSON
                counts[(row["source"], row["stage"], row.get("reason", "duplicate"))] += 1
    return counts


def test_the_run_completes_and_every_input_is_accounted_for(hostile_run):
    output, part, result = hostile_run
    assert result["code"] == 0
    manifest = load_manifest(output / "manifest.json")
    on_disk = _side_lines(output)
    for name, expected in part.inputs.items():
        totals = manifest.sources[name]
        assert totals.input == expected, name
        assert totals.input == totals.kept + totals.duplicates_total + totals.rejected_total
        for stage, reasons in totals.rejected.items():
            for reason, n in reasons.items():
                assert on_disk[(name, stage, reason)] == n, (name, stage, reason)
        for stage, n in totals.duplicates.items():
            assert on_disk[(name, stage, "duplicate")] == n, (name, stage)
        read = {f"read/{r}": n for r, n in totals.rejected.get("read", {}).items()}
        assert read == part.planted[name], name


def test_peak_memory_stays_within_the_stated_bound(hostile_run, baseline_peak):
    added = hostile_run[2]["peak"] - baseline_peak
    assert added < HOSTILE_ALLOWANCE, f"{added / 2**20:.0f} MiB over {baseline_peak / 2**20:.0f}"


def test_verify_recounts_every_written_line_of_the_hostile_run(hostile_run, tmp_path):
    output = hostile_run[0]
    assert main(["verify", str(output / "manifest.json")]) == 0
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    side = next(iter(sorted(copy.glob("**/rejected/*/read/*/*.jsonl.gz"))))
    lines = gzip.decompress(side.read_bytes()).splitlines(keepends=True)
    side.write_bytes(gzip.compress(b"".join(lines[1:])))  # one rejected line lost
    assert main(["verify", str(copy / "manifest.json")]) != 0
