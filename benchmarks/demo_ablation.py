"""CPU-seconds of the demo's ablation step, one way against another, on a demo run.

Runs the demo's own `polymix ablate` line (`commands.demo.ablation_command`: its proxy
model keys and batch) as a child process for each way `KxSTEPS` (K proxies side by side,
1: one by one), in a fresh output folder each time, so every run compiles as the demo's
does. Ways alternate round by round (A B, then B A, ...) so a load change on a shared
machine falls on both. CPU-seconds are the child's user + system time
(`RUSAGE_CHILDREN`), not wall time. Prints each run, then every way's median as a ratio
of the first way's, and the chosen weights line of each way's last run.

    .venv/bin/polymix demo --output out/demo --proxies 0   # a demo run, once
    .venv/bin/python benchmarks/demo_ablation.py --manifest out/demo/run/manifest.json \\
        --ways 1x30,8x60 [--proxies 8] [--rounds 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polymix.commands.demo import ablation_command  # noqa: E402

POLYMIX = str(Path(sys.executable).with_name("polymix"))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(manifest: Path, output: Path, proxies: int, way: tuple[int, int]) -> tuple[float, str]:
    """CPU-seconds of one ablate command, and the line naming the chosen weights."""
    k, steps = way
    command = ablation_command(manifest.parent, output, proxies, steps, k)
    before, began = children_cpu(), time.perf_counter()
    done = subprocess.run([POLYMIX, *command], capture_output=True, text=True)
    cpu, wall = children_cpu() - before, time.perf_counter() - began
    print(f"$ polymix {' '.join(command)}\n  {cpu:.1f} CPU-s, {wall:.0f} s wall", flush=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    chosen = next((line for line in done.stdout.splitlines() if line.startswith("chosen")), "")
    return cpu, chosen


def parse_ways(text: str) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in way.split("x")) for way in text.split(",")]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="a demo run's manifest")
    parser.add_argument("--ways", default="1x30,8x60", help="KxSTEPS, comma-separated")
    parser.add_argument("--proxies", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep every run's ablation folder here")
    args = parser.parse_args()
    print("command: .venv/bin/python benchmarks/demo_ablation.py " + " ".join(sys.argv[1:]))
    ways = parse_ways(args.ways)
    cpu: dict[tuple[int, int], list[float]] = {w: [] for w in ways}
    chosen: dict[tuple[int, int], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for way in ways if round_ % 2 == 0 else ways[::-1]:
                output = (args.keep or Path(tmp)) / f"{way[0]}x{way[1]}-{round_}"
                seconds, chosen[way] = one_run(args.manifest, output, args.proxies, way)
                cpu[way].append(seconds)
    base = statistics.median(cpu[ways[0]])
    for way in ways:
        median = statistics.median(cpu[way])
        label = "one by one" if way[0] == 1 else f"side by side K={way[0]}"
        print(
            f"{args.proxies} proxies x {way[1]} steps, {label}: {median:.1f} CPU-s median, "
            f"{median / base:.2f}x {ways[0][0]}x{ways[0][1]}; {chosen[way]}"
        )


if __name__ == "__main__":
    main()
