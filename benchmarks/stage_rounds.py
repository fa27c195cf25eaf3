"""The near-dedup stage's fixed cost of its unrolled rounds: sides compared in one run.

    .venv/bin/python benchmarks/minhash.py stage --docs 5000 --rounds 24:4 6:1
    .venv/bin/python benchmarks/minhash.py stage --docs 5000 --before /tmp/before

A side is a tree (this one, or a checkout given by `--before`) and the connected-
components / cluster-floor rounds (`max_rounds:floor_rounds`; none: that tree's
defaults). Each side runs `minhash.py _stage_child` of its own tree in a fresh process,
rounds alternating which side goes first; its CPU is the dedup run's minus the
generating run's (the child measures both). The graph of `NearDuplicates` is counted
in another fresh process of the side's tree: every transform of the pipeline proto,
its leaves (what the runner executes), and its GroupByKeys (shuffles; a lifted combine
is one). Ratios are against the first side.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COUNT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import apache_beam as beam
from apache_beam.portability import common_urns
from polymix.core.config.near_dedup import NearDedupConfig
try:  # where this tree keeps the stage (earlier trees: near_dedup.py)
    from polymix.pipelines.dedup_alone import NearDuplicates
except ImportError:
    from polymix.pipelines.near_dedup import NearDuplicates
from polymix.transforms.example import Example
pipeline = beam.Pipeline()
one = Example(source="web", id="a", modality="text", text="a b c")
_ = pipeline | beam.Create([one]) | NearDuplicates(NearDedupConfig(**json.loads(sys.argv[2])))
transforms = pipeline.to_runner_api().components.transforms.values()
leaves = [t for t in transforms if not t.subtransforms]
shuffles = [t for t in leaves if t.spec.urn == common_urns.primitives.GROUP_BY_KEY.urn]
print("COUNTS " + json.dumps([len(transforms), len(leaves), len(shuffles)]))
"""


def graph_counts(tree: Path, rounds: dict[str, int]) -> list[int]:
    """[transforms, leaves, shuffles] of NearDuplicates as `tree` builds it."""
    out = subprocess.run(
        [sys.executable, "-c", _COUNT, str(tree), json.dumps(rounds)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("COUNTS "))
    return json.loads(line[len("COUNTS ") :])


def stage_child_row(tree: Path, n_docs: int, rounds: dict[str, int] | None = None) -> dict:
    """`minhash.py _stage_child` of `tree` in a fresh process: its figures for `n_docs`."""
    args = [sys.executable, str(tree / "benchmarks" / "minhash.py"), "_stage_child", str(n_docs)]
    proc = subprocess.run(
        args + ([json.dumps(rounds)] if rounds else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"stage run of {n_docs} docs in {tree} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stage_cpu(tree: Path, n_docs: int, rounds: dict[str, int]) -> tuple[float, dict]:
    row = stage_child_row(tree, n_docs, rounds)
    return row["docs"] / row["docs_per_cpu_s"], row["counters"]


def parse_sides(before: Path | None, rounds: list[str] | None) -> list[tuple[str, Path, dict]]:
    """(name, tree, rounds) for each side: `before` first, then each `max:floor` here."""
    sides = [("before", before.resolve(), {})] if before else []
    for spec in rounds or ([] if not before else ["default"]):
        if spec == "default":
            sides.append(("now (defaults)", ROOT, {}))
            continue
        max_rounds, floor_rounds = (int(x) for x in spec.split(":"))
        sides.append(
            (f"rounds {spec}", ROOT, {"max_rounds": max_rounds, "floor_rounds": floor_rounds})
        )
    return sides


def compare(sides: list[tuple[str, Path, dict]], n_docs: int, repeat: int) -> None:
    """Each side's dedup CPU over `repeat` rounds (order alternating), graph sizes, ratios."""
    cpu: list[list[float]] = [[] for _ in sides]
    for r in range(repeat):
        order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            cpu[i].append(_stage_cpu(sides[i][1], n_docs, sides[i][2])[0])
    counts = [graph_counts(tree, rounds) for _name, tree, rounds in sides]
    print(
        f"near-dedup stage, {n_docs} docs, DirectRunner, CPU-s of the dedup alone, {repeat} rounds:"
    )
    base_cpu, base_counts = min(cpu[0]), counts[0]
    for (name, _tree, _rounds), seconds, count in zip(sides, cpu, counts, strict=True):
        print(
            f"  {name:<16} CPU {' / '.join(f'{s:5.1f}' for s in seconds)} s, best {min(seconds):5.1f} "
            f"(x{min(seconds) / base_cpu:.2f}; {n_docs / min(seconds):5.0f} docs/CPU-s); "
            f"graph: {count[0]} transforms (x{count[0] / base_counts[0]:.2f}), {count[1]} "
            f"leaves, {count[2]} shuffles (x{count[2] / base_counts[2]:.2f})"
        )


def _chain_page(i: int, words: list[str]) -> object:
    """Page `i` of a sliding 300-word window, 30 words a step: neighbours J ~0.82, pages
    two steps apart ~0.66, so only neighbours are duplicates."""
    from polymix.transforms.example import Example

    text = " ".join(words[i * 30 : i * 30 + 300])
    return Example(source="web", id=f"page{i:05d}", modality="text", text=text)


def _kept_of_chain(n_pages: int, max_rounds: int) -> int:
    """Pages NearDuplicates keeps of the chain (DirectRunner runs in this process)."""
    import apache_beam as beam

    from benchmarks.minhash import generate
    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.pipelines.near_dedup import NearDuplicates

    words = " ".join(e.text for e in generate(n_pages // 4 + 2, seed=8, dup_share=0.0)).split()
    pages = [_chain_page(i, words) for i in range(n_pages)]
    pipeline = beam.Pipeline()
    config = NearDedupConfig(bands=32, rows=4, max_rounds=max_rounds)
    out = pipeline | beam.Create(pages, reshuffle=False) | NearDuplicates(config)
    _ = out["kept"] | beam.combiners.Count.Globally() | beam.Map(_note_kept)
    pipeline.run().wait_until_finish()
    return _KEPT.pop()


_KEPT: list[int] = []


def _note_kept(count: int) -> None:
    _KEPT.append(count)


def chain_kept(n_pages: int, rounds: list[int]) -> None:
    """Pages a near-duplicate chain keeps when the components rounds run out, against the
    rounds it needs (in memory, `star_cc`), as ratios to the last (most) rounds given."""
    from polymix.transforms.star_cc import components_by_rounds, rank

    ids = [f"page{i:05d}\x1fweb" for i in range(n_pages)]
    _, needed, _ = components_by_rounds(
        [(rank(a), rank(b)) for a, b in zip(ids, ids[1:], strict=False)], 64
    )
    kept = {r: _kept_of_chain(n_pages, r) for r in rounds}
    last = kept[rounds[-1]]
    print(
        f"a chain of {n_pages} near-duplicate pages (neighbours J ~0.82), {needed} rounds needed:"
    )
    for r in rounds:
        print(
            f"  max_rounds {r:2d}: {kept[r]} pages kept (x{kept[r] / last:.3f} of {rounds[-1]} rounds)"
        )
