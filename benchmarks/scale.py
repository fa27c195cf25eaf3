"""How the text pipeline scales here, and what that implies for 1 PB on Dataflow.

    .venv/bin/python benchmarks/scale.py [pipeline] [--base-scale 8]
    .venv/bin/python benchmarks/scale.py cc [--chain 10000000]
    .venv/bin/python benchmarks/scale.py phash [--hashes 1000000 10000000]

`pipeline`: throughput with 1 and 2 DirectRunner worker processes (speed-up), wall time
and peak memory at corpus sizes N, 2N, 4N (growth), the bytes each document costs in
every shuffle (encoding real elements with the coder Beam uses; dedup's measured on a
DirectRunner run by `benchmarks/minhash.py dedup`), and CPU-seconds per GB of text;
then the extrapolation to 1 PB on Dataflow with the prices and assumptions printed next
to the table.

`cc`: connected-components rounds and shuffled edges for a chain whose ids are sorted
along it (10^7 nodes) and for an LSH-like graph (10^6 nodes in small stars and short
paths), with the per-node rules of `polymix/transforms/star_cc.py` run as a numpy
simulation (a DirectRunner run of 10^7 nodes would take hours; the simulation is checked
against the rules themselves on small graphs first). Baseline in the same run: the
previous rules (id order, no finished-star split-off, a fixed 20 rounds).

`phash`: the largest perceptual-hash bucket and the comparisons it costs at 10^6 and
10^7 uniform synthetic 64-bit hashes, with the band plan `phash.band_plan` picks for
that size against the fixed max_distance + 1 bands (the baseline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
from polymix.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - start
self_, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("RESULT " + json.dumps({
    "code": code, "wall": wall,
    "cpu": self_.ru_utime + self_.ru_stime + kids.ru_utime + kids.ru_stime,
    "peak_mb": max(self_.ru_maxrss, kids.ru_maxrss) / 1024,
}))
"""

# Assumed Dataflow batch list prices (us-central1, USD); check the current price list.
VCPU_HOUR = 0.056
GB_RAM_HOUR = 0.003557
SHUFFLE_GB = 0.011
RAM_PER_VCPU_GB = 3.75  # n1-standard machine shape
TARGET_HOURS = 24.0
PETABYTE_GB = 1e6


def run_child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=ROOT
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(line[len("RESULT ") :])


def corpus(work: Path, scale: int) -> tuple[Path, int, int]:
    from benchmarks.text_corpus import text_only_corpus

    config = text_only_corpus(work / f"corpus-{scale}", scale)
    docs, text_bytes = 0, 0
    for line in _iter_texts(config.parent):
        docs += 1
        text_bytes += len(line.encode("utf-8"))
    return config, docs, text_bytes


def _iter_texts(root: Path):
    from polymix.commands.tokenizer import training_texts
    from polymix.core.config import load_config

    yield from training_texts(load_config(root / "polymix.yaml"), 10**9)


def shuffle_bytes_per_document(config_path: Path, dedup_docs: int) -> dict[str, float]:
    """Encoded size of what each GroupByKey moves, per input document, with Beam's coder.

    Dedup's shuffles are measured on a DirectRunner run of `dedup_docs` generated pages
    with 30% duplicates (`benchmarks/minhash.py dedup`) and scaled to this corpus's
    document: they move ids, hashes and sketches that grow with the text, and the document
    once."""
    import functools

    from apache_beam.coders import FastPrimitivesCoder
    from apache_beam.io.filesystems import FileSystems

    from polymix.core.config import load_config
    from polymix.pipelines.grouped_write import Item
    from polymix.pipelines.read import file_id, open_raw
    from polymix.transforms.example import Example
    from polymix.transforms.normalize import normalize_text
    from polymix.transforms.read_text import TextSourceSpec, read_text_file
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    config = load_config(config_path)
    coder = FastPrimitivesCoder()
    tokenizer = TextTokenizer(
        Path(config.resolve(config.tokenizer.model)).read_bytes(), config.shards.max_seq_len
    )
    totals = {"dedup": 0, "write_shards": 0, "side_outputs": 0, "counts": 0}
    document_bytes = 0
    docs = 0
    for source in config.sources:
        spec = TextSourceSpec(
            source.name, source.modality, source.format, source.text_field, source.id_field
        )
        for match in FileSystems.match([config.resolve(p) for p in source.paths]):
            for meta in match.metadata_list:
                opener = functools.partial(open_raw, meta.path)
                for item in read_text_file(
                    spec, opener, meta.path, file_id(meta.path, config.base_dir)
                ):
                    docs += 1
                    if not isinstance(item, Example):
                        totals["side_outputs"] += len(coder.encode(item))
                        continue
                    example = item.replace(text=normalize_text(item.text or ""))
                    document_bytes += len(coder.encode(example))
                    for record_id, payload, positions in tokenizer.records(
                        source.name, source.modality, example.id, example.text
                    ):
                        shard_item = Item((source.name,), record_id, payload, positions)
                        totals["write_shards"] += len(
                            coder.encode(((source.name, 0, 1), shard_item))
                        )
    from benchmarks.minhash import dedup_shuffle_bytes

    stages, measured_document = dedup_shuffle_bytes(dedup_docs)
    dedup_ratio = sum(stats["bytes"] for stats in stages.values()) / measured_document
    totals["dedup"] = dedup_ratio * document_bytes
    return {stage: n / docs for stage, n in totals.items()}


def bench_pipeline(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="polymix-scale-"))
    sizes = [args.base_scale, 2 * args.base_scale, 4 * args.base_scale]

    rows = []
    for scale in sizes:
        config, docs, text_bytes = corpus(work, scale)
        result = run_child(
            ["run", str(config), "--output", str(work / f"out-{scale}"), "--direct_num_workers=1"]
        )
        rows.append((scale, docs, text_bytes, result))
    biggest_config = work / f"corpus-{sizes[-1]}" / "polymix.yaml"
    two = run_child(
        ["run", str(biggest_config), "--output", str(work / "out-2w")]
        + ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    )
    one = rows[-1][3]

    print(
        f"\n{'scale':>6}{'docs':>8}{'text MB':>9}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}{'docs/s':>8}"
    )
    for scale, docs, text_bytes, r in rows:
        print(
            f"{scale:>6}{docs:>8}{text_bytes / 1e6:>9.1f}{r['wall']:>8.1f}{r['cpu']:>8.1f}"
            f"{r['peak_mb']:>9.0f}{docs / r['wall']:>8.0f}"
        )
    growth_time = rows[-1][3]["wall"] / rows[0][3]["wall"]
    growth_mem = rows[-1][3]["peak_mb"] / rows[0][3]["peak_mb"]
    print(f"4N/N: time {growth_time:.2f}x, peak memory {growth_mem:.2f}x (corpus 4x)")
    print(
        f"2 workers vs 1 at 4N: {one['wall'] / two['wall']:.2f}x speed-up ({two['wall']:.1f}s vs {one['wall']:.1f}s)"
    )

    shuffle = shuffle_bytes_per_document(
        work / f"corpus-{sizes[0]}" / "polymix.yaml", args.dedup_docs
    )
    _, docs, text_bytes, r = rows[-1]
    whole_run_per_gb = r["cpu"] / (text_bytes / 1e9)
    # Per GB from 4N - N: a run's fixed cost (imports, models, compiling kernels, the
    # report's plots) is paid once per job, not per GB, so it does not scale to 1 PB.
    _, _, first_bytes, first = rows[0]
    cpu_per_gb = (r["cpu"] - first["cpu"]) / ((text_bytes - first_bytes) / 1e9)
    per_doc_text = text_bytes / docs
    print("\nshuffle bytes per input document, by stage:")
    for stage, n in shuffle.items():
        print(f"  {stage:<14}{n:>10.0f} B  ({n / per_doc_text:.2f}x the document's text)")
    shuffle_ratio = sum(shuffle.values()) / per_doc_text
    print(
        f"CPU-seconds per GB of text (1 worker, DirectRunner): {cpu_per_gb:.0f} marginal "
        f"(4N - N); {whole_run_per_gb:.0f} for the whole 4N run with its fixed cost "
        f"({first['cpu'] - (first_bytes / 1e9) * cpu_per_gb:.0f} CPU-s)"
    )

    vcpu_hours = cpu_per_gb * PETABYTE_GB / 3600
    vcpus = vcpu_hours / TARGET_HOURS
    shuffle_gb = shuffle_ratio * PETABYTE_GB
    cost_cpu = vcpu_hours * VCPU_HOUR
    cost_ram = vcpu_hours * RAM_PER_VCPU_GB * GB_RAM_HOUR
    cost_shuffle = shuffle_gb * SHUFFLE_GB
    print(f"\n1 PB of text on Dataflow, finishing in {TARGET_HOURS:.0f} h:")
    print(
        f"  vCPU-hours {vcpu_hours:,.0f}; {vcpus:,.0f} vCPUs = {vcpus / 4:,.0f} n1-standard-4 workers"
    )
    print(f"  shuffle volume {shuffle_gb / 1e6:,.2f} PB")
    print(
        f"  cost: vCPU ${cost_cpu:,.0f} + memory ${cost_ram:,.0f} + shuffle ${cost_shuffle:,.0f}"
        f" = ${cost_cpu + cost_ram + cost_shuffle:,.0f}"
    )
    print(
        f"  assumptions: ${VCPU_HOUR}/vCPU-h, ${GB_RAM_HOUR}/GB-h, {RAM_PER_VCPU_GB} GB/vCPU, "
        f"${SHUFFLE_GB}/GB shuffled; CPU per GB as measured here on DirectRunner"
    )


# --------------------------------------------------------------------------- cc


def _unique_edges(a, b, flags):
    import numpy as np

    key = a.astype(np.int64) * (1 << 31) + b
    _, first = np.unique(key, return_index=True)
    return a[first], b[first], flags[first]


def cc_round(a, b, flags, n: int):
    """One round of `star_cc`'s rules over integer nodes (their rank order) with numpy:
    returns the next edges and the labels of the stars that finished."""
    import numpy as np

    u, v = np.concatenate([a, b]), np.concatenate([b, a])
    half_flag, larger = np.concatenate([np.zeros(len(a), bool), flags]), v > u
    big, ids = np.iinfo(np.int64).max, np.arange(n)
    smallest = np.full(n, big)
    np.minimum.at(smallest, u, v)
    flagged = np.ones(n, bool)
    np.logical_and.at(flagged, u, half_flag | ~larger)
    has_larger = np.zeros(n, bool)
    np.logical_or.at(has_larger, u, larger)
    seen = smallest < big
    parent = np.minimum(ids, smallest)
    final = seen & (smallest > ids) & flagged
    to_final = larger & final[u]
    finished = (v[to_final], u[to_final])
    hang = larger & ~final[u]
    child, new_parent = v[hang], parent[u[hang]]
    noted = np.zeros(n, bool)
    noted[parent[np.nonzero(seen & has_larger & ~final)[0]]] = True
    low = np.full(n, big)
    np.minimum.at(low, child, new_parent)
    stepped = low < big
    small_parent = np.where(stepped, np.minimum(ids, low), ids)
    own = np.nonzero(stepped & (small_parent != ids))[0]
    moved = new_parent != small_parent[child]
    next_a = np.concatenate([own, new_parent[moved]])
    next_b = np.concatenate([small_parent[own], small_parent[child[moved]]])
    next_flags = np.concatenate([~noted[own], np.zeros(int(moved.sum()), bool)])
    roots = np.nonzero(final)[0]
    return _unique_edges(next_a, next_b, next_flags), finished, roots


def cc_simulate(a, b, n: int, max_rounds: int = 64):
    """Rounds until no edge is left, edges per round, and node -> root labels."""
    import numpy as np

    a, b = np.minimum(a, b), np.maximum(a, b)
    edges = _unique_edges(a, b, np.zeros(len(a), bool))
    per_round, label = [], np.full(n, -1)
    while len(edges[0]) and len(per_round) < max_rounds:
        per_round.append(len(edges[0]))
        edges, (leaves, roots_of_leaves), roots = cc_round(*edges, n)
        label[leaves], label[roots] = roots_of_leaves, roots
    return per_round, label


def old_rounds(a, b, n: int, cap: int = 64) -> int:
    """Rounds the previous rules (large-star/small-star by id, no split-off) ran until
    the edges stopped changing; it always unrolled 20 and shuffled every edge in each."""
    import numpy as np

    def norm(x, y):
        e = np.unique(np.stack([np.minimum(x, y), np.maximum(x, y)], 1), axis=0)
        return e[:, 0], e[:, 1]

    current = norm(a, b)
    for r in range(cap):
        u, v = np.concatenate(current), np.concatenate(current[::-1])
        m = np.arange(n)
        np.minimum.at(m, u, v)
        keep = v > u
        x, y = v[keep], m[u[keep]]
        hi, lo = np.maximum(x, y), np.minimum(x, y)
        m2 = np.arange(n)
        np.minimum.at(m2, hi, lo)
        xs, ms = np.concatenate([lo, hi]), np.concatenate([m2[hi], m2[hi]])
        following = norm(xs[xs != ms], ms[xs != ms])
        if all(np.array_equal(p, q) for p, q in zip(following, current, strict=True)):
            return r
        current = following
    return cap


def _check_simulation() -> None:
    """The numpy rules equal star_cc's on random graphs (same rounds, same labels)."""
    import random

    import numpy as np

    from polymix.transforms.star_cc import components_by_rounds

    rng = random.Random(0)
    for _ in range(20):
        n = rng.randint(2, 400)
        pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(1, 500))]
        pairs = [(x, y) for x, y in pairs if x != y]
        labels, rounds, _ = components_by_rounds(pairs, 64)
        a = np.array([p[0] for p in pairs])
        b = np.array([p[1] for p in pairs])
        per_round, label = cc_simulate(a, b, n)
        assert len(per_round) == rounds, (len(per_round), rounds)
        assert {i: int(label[i]) for i in labels} == labels


def lsh_like_graph(n: int, seed: int = 0):
    """Clusters as near dedup's candidate graph has them: mostly pairs and small stars
    from bucket minima, some short paths, every tenth one larger (up to 60)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rank = rng.permutation(n)
    a, b, start = [], [], 0
    while start < n - 1:
        size = int(min(n - start, rng.choice([2, 2, 2, 3, 3, 4, 5, 6, 10, 60])))
        nodes = np.arange(start, start + size)
        if rng.random() < 0.7:
            a.append(np.full(size - 1, nodes[0]))
            b.append(nodes[1:])
        else:
            a.append(nodes[:-1])
            b.append(nodes[1:])
        start += size
    return rank[np.concatenate(a)], rank[np.concatenate(b)]


def bench_cc(chain: int) -> None:
    import numpy as np

    _check_simulation()
    rng = np.random.default_rng(0)
    print("connected components (numpy simulation of the per-node rules, checked on small graphs):")
    cases = [("LSH-like graph", 10**6, *lsh_like_graph(10**6))]
    ids = np.arange(chain)
    cases.append((f"sorted chain of {chain:,}", chain, ids[:-1], ids[1:]))
    for name, n, a, b in cases:
        ranked = rng.permutation(n)  # hashed ranks: ids sorted along the chain are no order
        start = time.perf_counter()
        per_round, _ = cc_simulate(ranked[a], ranked[b], n)
        took = time.perf_counter() - start
        edges, edge_rounds = len(a), sum(per_round)
        # shuffled elements: now 2 half-edges + 1 meet member in large-star, 1 + 1 in
        # small-star per active edge and round; before, 2 + 1 per edge in each of 20 rounds
        now, before = 5 * edge_rounds / edges, 3 * 20
        needed = f"needed {old_rounds(a, b, n)}" if n <= 10**6 else "need more than 20"
        print(
            f"  {name}: {len(per_round)} rounds; edges per round {per_round[:5]}"
            f"{'...' if len(per_round) > 5 else ''}; {now:.1f} shuffled elements per edge "
            f"({took:.0f}s)"
        )
        print(
            f"    previous rules ({needed} rounds by id, 20 unrolled): {before} elements per "
            f"edge; now {now / before:.2f}x of that"
        )
    _chain_rounds()


def _chain_rounds() -> None:
    """Rounds a chain needs by length (three hashed orders each) against the default."""
    import numpy as np

    from polymix.core.config.near_dedup import NearDedupConfig

    default = NearDedupConfig().max_rounds
    print(f"  rounds a chain needs, three random rank orders each (default max_rounds {default}):")
    for n in (10**3, 10**4, 10**5, 10**6):
        needed = []
        for seed in range(3):
            ranked = np.random.default_rng(seed).permutation(n)
            needed.append(len(cc_simulate(ranked[:-1], ranked[1:], n)[0]))
        within = "within" if max(needed) <= default else "beyond"
        print(f"    chain of {n:>9,}: {needed} rounds, {within} the default")


# --------------------------------------------------------------------------- phash


def bench_phash(sizes: list[int]) -> None:
    import numpy as np

    from polymix.core.config.media import PerceptualDedupConfig
    from polymix.transforms.media.phash import band_plan, band_values, pigeonhole_bands

    config = PerceptualDedupConfig()
    rng = np.random.default_rng(0)
    print(f"perceptual buckets, uniform 64-bit hashes, max_distance {config.max_distance}:")
    for n in sizes:
        hashes = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
        hashes += rng.integers(0, 2, n).astype(np.uint64)
        for name, plan in (
            ("fixed bands", pigeonhole_bands(64, config.max_distance)),
            (
                "planned",
                band_plan(n, 64, config.max_distance, config.bucket_size, config.miss_rate),
            ),
        ):
            start = time.perf_counter()
            largest, pairs = 0, 0
            for band in plan:  # one band at a time: 10^7 x 325 bands would be 24 GiB
                values = band_values(hashes, (band,))[:, 0]
                counts = np.unique(values, return_counts=True)[1].astype(np.float64)
                largest = max(largest, int(counts.max()))
                pairs += float((counts * (counts - 1) / 2).sum())
            print(
                f"  {n:>11,} hashes, {name:<11}: {len(plan):>3} bands of "
                f"{min(map(len, plan))}-{max(map(len, plan))} bits, largest bucket "
                f"{largest:>9,}, {pairs / n:>10,.1f} comparisons per hash "
                f"({time.perf_counter() - start:.0f}s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", choices=["pipeline", "cc", "phash"], default="pipeline")
    parser.add_argument("--base-scale", type=int, default=8, help="N in the sample corpus's units")
    parser.add_argument("--dedup-docs", type=int, default=20000)
    parser.add_argument("--chain", type=int, default=10**7)
    parser.add_argument("--hashes", type=int, nargs="*", default=[10**6, 10**7])
    args = parser.parse_args()
    if args.what == "cc":
        bench_cc(args.chain)
    elif args.what == "phash":
        bench_phash(args.hashes)
    else:
        bench_pipeline(args)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - start:.0f}s)")
