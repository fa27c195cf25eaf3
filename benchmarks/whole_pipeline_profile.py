"""Where a document's CPU goes in `polymix run`, stage by stage (`whole_pipeline.py --profile`).

    .venv/bin/python benchmarks/whole_pipeline.py --rounds 0 --profile [--before TREE]

Runs polymix on the whole-pipeline corpus with `benchmarks/stack_sampler.py` in every
process: with one worker, the CPU of each stage per document (and, with `--before`, the
same from another checkout of the repository, e.g. `git archive <commit> | tar -x -C
TREE`, run on the same corpus right after); with two DirectRunner workers, what each
process spent its CPU on, to say where a second worker's time goes.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

from benchmarks import stack_sampler
from benchmarks.measured_process import ROOT, run_polymix


def _stages(process: dict) -> collections.Counter[str]:
    stages: collections.Counter[str] = collections.Counter()
    for key, seconds in process["keys"].items():
        stages[stack_sampler.stage_of(key)] += seconds
    stages["not sampled (C threads, the sampler, start-up)"] = max(
        0.0, process["cpu"] - sum(process["keys"].values())
    )
    return stages


def one_worker(config: Path, work: Path, tree: Path, label: str) -> tuple[dict, dict]:
    folder = work / f"profile-{label}"
    env = stack_sampler.enable(folder, dict(os.environ))
    result = run_polymix(config, work / f"out-profile-{label}", 1, tree, env)
    total: collections.Counter[str] = collections.Counter()
    for process in stack_sampler.summary(folder):
        total.update(_stages(process))
    return dict(total), result


def two_workers(config: Path, work: Path) -> None:
    folder = work / "profile-2w"
    env = stack_sampler.enable(folder, dict(os.environ))
    result = run_polymix(config, work / "out-profile-2w", 2, env=env)
    print(f"\n2 DirectRunner workers: {result['wall']:.1f} s wall, {result['cpu']:.1f} CPU-s")
    for process in stack_sampler.summary(folder):
        role = "runner" if "--output" in process["argv"] else "worker"
        top = _stages(process).most_common(4)
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in top)
        print(f"  {role:<7} pid {process['pid']}: {process['cpu']:6.1f} CPU-s; {parts}")


def profile(config: Path, work: Path, docs: int, before: Path | None) -> None:
    runs = {"after": one_worker(config, work, ROOT, "after")}
    if before is not None:
        runs["before"] = one_worker(config, work, before, "before")
    names = sorted({s for stages, _ in runs.values() for s in stages}, key=lambda s: s)
    labels = [label for label in ("before", "after") if label in runs]
    print(f"\nCPU per document by stage, ms (1 worker, {docs} documents):")
    print(f"{'stage':<48}" + "".join(f"{label:>10}" for label in labels))
    for name in names:
        row = [runs[label][0].get(name, 0.0) * 1000 / docs for label in labels]
        print(f"{name:<48}" + "".join(f"{ms:>10.2f}" for ms in row))
    totals = [runs[label][1]["cpu"] * 1000 / docs for label in labels]
    print(f"{'total (CPU-s of the run)':<48}" + "".join(f"{ms:>10.2f}" for ms in totals))
    walls = ", ".join(f"{label} {runs[label][1]['wall']:.1f} s" for label in labels)
    print(f"1 worker, wall: {walls}")
    two_workers(config, work)
