"""MinHasher against datasketch, and the dedup stages on DirectRunner.

    .venv/bin/python benchmarks/minhash.py                  # signatures and stage
    .venv/bin/python benchmarks/minhash.py signatures --docs 2000
    .venv/bin/python benchmarks/minhash.py stage --docs 20000 80000
    .venv/bin/python benchmarks/minhash.py stage --docs 5000 --repeat 3 --before TREE
    .venv/bin/python benchmarks/minhash.py stage --docs 5000 --rounds 24:4 12:4
    .venv/bin/python benchmarks/minhash.py dedup --docs 20000
    .venv/bin/python benchmarks/minhash.py hot --members 1000000 --run-members 20000
    .venv/bin/python benchmarks/minhash.py curve
    .venv/bin/python benchmarks/minhash.py chain --pages 2000 --max-rounds 4 6 8 12 24

`curve`: the LSH S-curve P(candidate | J) of the default config beside the previous
default (128 permutations, 9 x 13), with the recall at and above the threshold; pure
arithmetic (`polymix.core.lsh_curve`), no documents.

`signatures`: the same documents through `MinHasher.signatures` and through
`datasketch.MinHash.update_batch` (fed `MinHasher.shingles`, with the same hash function),
in the same run, on one core; checks the values are identical and prints the ratio.
`stage`: `NearDuplicates` with the default config on a generated corpus (10% of documents
are edited copies), one subprocess per size so each peak RSS (ru_maxrss) is its own.
With `--before TREE` or `--rounds`: sides compared in one run, their CPU and graph
sizes as ratios (`benchmarks/stage_rounds.py`).
`chain`: pages kept of a chain of near duplicates (each page like its neighbours only)
with too few connected-components rounds, against enough of them.
`dedup`: exact + near dedup (`TextDuplicates`, default config) on a corpus with 30%
duplicates (15% exact copies, 15% edited copies); every user-level GroupByKey and
CombinePerKey input is encoded with Beam's coder as it enters, giving the elements and
bytes each stage shuffles per document (combines are lifted: what crosses is at most
their input) and the largest value list under one key, as ratios to the document.
`hot`: one exact group and one near cluster of `--members` pages: per-key value lists
and bytes computed with the pipeline's own key functions (`salt_of`) and element
encodings, against the previous layout (the whole group under one key, with the
documents); checked by a DirectRunner run at `--run-members`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from datasketch import MinHash  # noqa: E402

from polymix.transforms.example import Example  # noqa: E402
from polymix.transforms.minhash import MinHasher  # noqa: E402


def generate(
    n_docs: int, seed: int = 0, dup_share: float = 0.1, exact_share: float = 0.0
) -> list[Example]:
    """Zipf-distributed pseudo-words, 50-600 words a document; `dup_share` are copies with
    2% of their words replaced, `exact_share` exact copies. Vectorized, so generating is
    cheap next to deduplicating."""
    rng = np.random.default_rng(seed)
    syllables = np.array(["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "ar", "ex", "po"])
    parts = syllables[rng.integers(0, len(syllables), (20000, 4))]
    lengths = rng.integers(1, 5, 20000)
    vocab = np.array(["".join(p[:n]) for p, n in zip(parts, lengths, strict=True)], dtype=object)
    vocab[rng.random(len(vocab)) < 0.05] += "."
    cumulative = np.cumsum(1.0 / np.arange(1, len(vocab) + 1))
    examples: list[Example] = []
    for i in range(n_docs):
        roll = rng.random()
        if examples and roll < exact_share:
            words = examples[rng.integers(len(examples))].text.split()
        elif examples and roll < exact_share + dup_share:
            words = examples[rng.integers(len(examples))].text.split()
            for position in rng.integers(0, len(words), max(1, len(words) // 50)):
                words[position] = vocab[rng.integers(len(vocab))]
        else:
            picks = np.searchsorted(cumulative, rng.random(rng.integers(50, 600)) * cumulative[-1])
            words = vocab[np.minimum(picks, len(vocab) - 1)].tolist()
        doc_id = f"doc{seed:04d}-{i:06d}"
        examples.append(Example(source="web", id=doc_id, modality="text", text=" ".join(words)))
    return examples


_SHARD_DOCS = 1000


def _generate_shard(shard: int, n_docs: int) -> list[Example]:
    return generate(min(_SHARD_DOCS, n_docs - shard * _SHARD_DOCS), seed=shard)


def bench_signatures(n_docs: int, repeat: int) -> None:
    """Three datasketch baselines, slowest last: `MinHash.bulk` over ready shingles (its
    fastest API: permutations drawn once, one `update_batch` per document), a new
    `MinHash` + `update_batch` per document, and the same from text (shingling included,
    as `MinHasher.signatures` does it)."""
    texts = [e.text for e in generate(n_docs, dup_share=0.0)]
    n_shingles = sum(len(MinHasher().shingles(t)) for t in texts)
    print(f"signatures: {n_docs} docs, {n_shingles / n_docs:.0f} shingles/doc, 128 perms, 5-grams")
    for name in ("xxh32", "sha1_32"):
        hasher = MinHasher(hash_function=name)
        hasher.signatures(texts[:2])  # compile (numba caches to __pycache__)
        hashfunc = None if name == "sha1_32" else hasher.hashfunc
        shingles = [hasher.shingles(t) for t in texts]

        def bulk(shingles=shingles, hashfunc=hashfunc) -> list[MinHash]:
            return MinHash.bulk(shingles, num_perm=128, seed=1, hashfunc=hashfunc)

        def per_document(shingles=shingles, hashfunc=hashfunc) -> None:
            for doc in shingles:
                MinHash(num_perm=128, seed=1, hashfunc=hashfunc).update_batch(doc)

        def from_text(hasher=hasher, hashfunc=hashfunc) -> None:
            for text in texts:
                MinHash(num_perm=128, seed=1, hashfunc=hashfunc).update_batch(hasher.shingles(text))

        ours = hasher.signatures(texts)
        identical = np.array_equal(ours, np.array([m.hashvalues for m in bulk()]))
        contenders = [lambda hasher=hasher: hasher.signatures(texts), bulk, per_document, from_text]
        seconds = _best_interleaved(contenders, repeat)
        print(
            f"  {name:8s} MinHasher.signatures {n_docs / seconds[0]:8.0f} docs/s, identical: {identical}"
        )
        for fn, took in zip(contenders[1:], seconds[1:], strict=True):
            label = f"datasketch {fn.__name__}"
            print(
                f"  {'':8s} {label:29s} {n_docs / took:6.0f} docs/s   ratio x{took / seconds[0]:.1f}"
            )


def _best_interleaved(fns: list, repeat: int) -> list[float]:
    """Best time of each, taking turns, so a busy machine slows all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def _stage_child(n_docs: int, rounds: dict[str, int]) -> dict[str, float]:
    import apache_beam as beam

    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.pipelines.dedup_alone import NearDuplicates

    counters: dict[str, int] = {}

    cpu: dict[bool, float] = {}

    def run(dedup: bool) -> float:
        start = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_start = usage.ru_utime + usage.ru_stime
        pipeline = beam.Pipeline()
        if True:
            # Generated inside the pipeline: `Create` of the corpus would time pickling.
            shards = list(range((n_docs + _SHARD_DOCS - 1) // _SHARD_DOCS))
            examples = (
                pipeline
                | beam.Create(shards)
                | beam.Reshuffle()
                | beam.FlatMap(_generate_shard, n_docs)
            )
            if not dedup:
                _ = examples | beam.combiners.Count.Globally() | beam.Map(_check_total, n_docs)
            else:
                out = examples | NearDuplicates(NearDedupConfig(**rounds))
                counts = [
                    out[name] | f"Count{name}" >> beam.combiners.Count.Globally()
                    for name in ("kept", "duplicates")
                ]
                _ = (
                    counts
                    | beam.Flatten()
                    | beam.combiners.ToList()
                    | beam.Map(lambda c: _check_total(sum(c), n_docs))
                )
        result = pipeline.run()
        result.wait_until_finish()
        if dedup:
            query = result.metrics().query(
                beam.metrics.MetricsFilter().with_namespace("near_dedup")
            )
            counters.update({c.key.metric.name: c.committed for c in query["counters"]})
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu[dedup] = usage.ru_utime + usage.ru_stime - cpu_start
        return time.perf_counter() - start

    MinHasher().signatures(["warm up the compiled kernels"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    generating = run(dedup=False)
    total = run(dedup=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "docs": n_docs,
        "seconds": total,
        "generate_seconds": generating,
        "docs_per_s": n_docs / (total - generating),
        "docs_per_cpu_s": n_docs / (cpu[True] - cpu[False]),
        "rss_before_mib": before / 1024,
        "peak_rss_mib": peak / 1024,
        "stage_mib": (peak - before) / 1024,
        "counters": counters,
    }


def _check_total(total: int, n_docs: int) -> None:
    if total != n_docs:
        raise AssertionError(f"{total} documents out, {n_docs} in")


def bench_stage(sizes: list[int]) -> None:
    from benchmarks.stage_rounds import stage_child_row

    rows = [stage_child_row(Path(__file__).resolve().parents[1], n) for n in sizes]
    print(
        "near-dedup stage on DirectRunner (default config, verify on; docs/s excludes generating):"
    )
    for row in rows:
        print(
            f"  {row['docs']:7d} docs  {row['seconds']:6.1f} s (generating alone "
            f"{row['generate_seconds']:4.1f} s)  {row['docs_per_s']:6.0f} docs/s, "
            f"{row['docs_per_cpu_s']:6.0f} docs/CPU-s  "
            f"peak RSS {row['peak_rss_mib']:6.0f} MiB (before {row['rss_before_mib']:5.0f}, "
            f"stage +{row['stage_mib']:5.0f} MiB = {row['stage_mib'] * 1024 / row['docs']:.1f} KiB/doc)"
        )
    for row in rows:
        print(f"  {row['docs']} docs, counters: {row['counters']}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(
            f"  growth x{last['docs'] / first['docs']:.1f} docs -> stage memory "
            f"x{last['stage_mib'] / first['stage_mib']:.2f}, peak RSS x{last['peak_rss_mib'] / first['peak_rss_mib']:.2f}"
        )


# --------------------------------------------------------------------------- shuffle bytes

_MEASURED: dict[str, dict[str, float]] = {}
# (label substring, stage name): the first match names a shuffle's stage
_STAGES = [
    ("Exact/KeptCopy", "exact: kept id per hash (combine)"),
    ("Exact/NameKept", "exact: members meet it (meet)"),
    ("Buckets/Summary", "near: LSH buckets (combine)"),
    ("Buckets/Star", "near: big-bucket stars (meet)"),
    ("Verify/HubSalts", "near: verify, hub salts (combine)"),
    ("Verify/GroupByNode", "near: verify, sketches by node"),
    ("Verify/Compare", "near: verify, sketches meet"),
    ("Components/", "near: connected components, all rounds"),
    ("Floor/Residue", "near: floor, pivot rounds"),
    ("Floor/", "near: floor, kept vs members"),
    ("Join/", "final join: document + decision"),
]


def _stage_of(label: str) -> str:
    return next((name for part, name in _STAGES if part in label), label)


def _beam_coder():
    """The coder Beam gives an untyped PCollection once polymix's element coders are in."""
    from typing import Any

    import apache_beam as beam

    import polymix.pipelines  # noqa: F401  (registers the element coders)

    return beam.coders.registry.get_coder(Any)


def _record_input(element, label: str, grouped: bool):
    coder = _beam_coder()
    stats = _MEASURED.setdefault(label, {"elements": 0, "bytes": 0, "largest": 0, "largest_b": 0})
    if grouped:
        _key, values = element
        values = list(values)
        size = sum(len(coder.encode(v)) for v in values)
        stats["largest"] = max(stats["largest"], len(values))
        stats["largest_b"] = max(stats["largest_b"], size)
        return element[0], values
    stats["elements"] += 1
    stats["bytes"] += len(coder.encode(element))
    return element


def _measuring_transforms():
    """GroupByKey / CombinePerKey that record what enters them (and, for a GroupByKey,
    its largest group), for pipeline code that reaches them as `beam.X`. The recorder is
    taken from the importable module, not `__main__`, so the in-process runner's copy of
    it writes into the same `_MEASURED`."""
    import apache_beam as beam

    from benchmarks.minhash import _record_input

    real_gbk, real_combine = beam.GroupByKey, beam.CombinePerKey

    def label_of(pcoll) -> str:
        return pcoll.pipeline._current_transform().full_label

    class MeasuredGroupByKey(beam.PTransform):
        def expand(self, pcoll):
            label = label_of(pcoll)
            measured = pcoll | "In" >> beam.Map(_record_input, label, False)
            return measured | "Real" >> real_gbk() | "Out" >> beam.Map(_record_input, label, True)

    class MeasuredCombinePerKey(beam.PTransform):
        def __init__(self, fn, *args, **kwargs):
            super().__init__()
            self.combine = real_combine(fn, *args, **kwargs)

        def expand(self, pcoll):
            label = label_of(pcoll)
            return pcoll | "In" >> beam.Map(_record_input, label, False) | "Real" >> self.combine

    return real_gbk, real_combine, MeasuredGroupByKey, MeasuredCombinePerKey


def _measure(build) -> dict[str, dict[str, float]]:
    """Run `build(pipeline)` on DirectRunner in this process with every shuffle measured."""
    import apache_beam as beam

    from benchmarks.minhash import _MEASURED

    real_gbk, real_combine, gbk, combine = _measuring_transforms()
    beam.GroupByKey, beam.CombinePerKey = gbk, combine
    try:
        pipeline = beam.Pipeline()
        build(pipeline)
        pipeline.run().wait_until_finish()
    finally:
        beam.GroupByKey, beam.CombinePerKey = real_gbk, real_combine
    measured = dict(_MEASURED)
    _MEASURED.clear()
    return measured


def _by_stage(measured: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    stages: dict[str, dict[str, float]] = {}
    for label, stats in measured.items():
        stage = stages.setdefault(
            _stage_of(label), {"elements": 0, "bytes": 0, "largest": 0, "largest_b": 0}
        )
        for key in ("elements", "bytes"):
            stage[key] += stats[key]
        for key in ("largest", "largest_b"):
            stage[key] = max(stage[key], stats[key])
    return stages


def _dedup_corpus(pipeline, n_docs: int):
    import apache_beam as beam

    shards = list(range((n_docs + _SHARD_DOCS - 1) // _SHARD_DOCS))
    from benchmarks.minhash import _dedup_shard

    return (
        pipeline
        | "Shards" >> beam.Create(shards)
        | "Generate" >> beam.FlatMap(_dedup_shard, n_docs)
    )


def _dedup_shard(shard: int, n_docs: int) -> list[Example]:
    return generate(
        min(_SHARD_DOCS, n_docs - shard * _SHARD_DOCS),
        seed=shard,
        dup_share=0.15,
        exact_share=0.15,
    )


def dedup_shuffle_bytes(n_docs: int) -> tuple[dict[str, dict[str, float]], float]:
    """Per stage: elements and bytes shuffled per input document, largest group; and the
    mean document (its encoded Example) in bytes."""
    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.core.config.text import ExactDedupConfig
    from polymix.pipelines.text_dedup import TextDuplicates

    def build(pipeline) -> None:
        _ = _dedup_corpus(pipeline, n_docs) | "Text" >> TextDuplicates(
            ExactDedupConfig(), NearDedupConfig()
        )

    stages = _by_stage(_measure(build))
    sample = _dedup_shard(0, min(n_docs, _SHARD_DOCS))
    coder = _beam_coder()
    document = sum(len(coder.encode(e)) for e in sample) / len(sample)
    for stats in stages.values():
        stats["elements"] /= n_docs
        stats["bytes"] /= n_docs
    return stages, document


def bench_dedup(n_docs: int) -> None:
    start = time.perf_counter()
    stages, document = dedup_shuffle_bytes(n_docs)
    print(
        f"dedup shuffles, exact + near (default config), {n_docs} docs with 30% duplicates, "
        f"a document {document:.0f} B as it crosses ({time.perf_counter() - start:.0f}s):"
    )
    print(f"  {'stage':<42}{'elements/doc':>13}{'bytes/doc':>11}{'x doc':>7}{'largest key':>13}")
    total = 0.0
    for stage, stats in stages.items():
        total += stats["bytes"]
        largest = f"{stats['largest']:.0f} ({stats['largest_b'] / 1024:.1f} KiB)"
        print(
            f"  {stage:<42}{stats['elements']:>13.2f}{stats['bytes']:>11.0f}"
            f"{stats['bytes'] / document:>7.2f}{largest:>13}"
        )
    print(f"  {'all dedup shuffles':<42}{'':>13}{total:>11.0f}{total / document:>7.2f}")
    print(json.dumps({"document": document, "total": total, "stages": stages}))


# --------------------------------------------------------------------------- hot keys


def _largest_salt(members: list[str]) -> int:
    from collections import Counter

    from polymix.pipelines.salted_join import salt_of

    return max(Counter(salt_of(m) for m in members).values())


def _hot_elements(nodes: list[str]) -> dict[str, float]:
    """Encoded sizes (Beam's coder) of the elements each hot-key shuffle carries, now
    (a member keyed for its meet) and before (the value the whole group had under one key)."""
    from apache_beam.coders import FastPrimitivesCoder

    from polymix.pipelines.salted_join import member_copy
    from polymix.transforms.star_cc import rank

    coder = FastPrimitivesCoder()
    page = generate(1, seed=7)[0]
    hasher = MinHasher()
    shingles = np.unique(hasher.shingle_hashes([page.text])[0]).astype("<u4").tobytes()
    signature = hasher.signatures([page.text])[0].astype("<u4").tobytes()
    digest, a, b = b"\xab" * 32, nodes[0], nodes[1]

    def size(value) -> float:
        return float(len(coder.encode(value)))

    return {
        "exact": size(member_copy(digest, a)),
        "exact before": size(("ab" * 32, page)),
        "bucket": size(member_copy(b"\x00\x01" + b"x" * 8, a)),
        "bucket before": size((b"k" * 10, a)),
        "sketch": size(member_copy(b, a, shingles)),
        "sketch before": size((a, (b, shingles))),
        "edge": size(member_copy(rank(b), rank(a))),
        "edge before": size((a, b)),
        "member before": size((a, page)) + size(signature),
    }


def hot_key_figures(members: int) -> list[tuple[str, float, float, float, float]]:
    """(shuffle, largest values per key, bytes per key, previous values, previous bytes)
    for one exact group and one near cluster of `members` 2 KB pages."""
    from polymix.transforms.lsh import node_key

    nodes = [node_key("web", f"doc0007-{i:07d}") for i in range(members)]
    per_salt, e = _largest_salt(nodes), _hot_elements(nodes)
    rows = [
        ("exact group: members meet the kept id", "exact", "exact before"),
        ("near cluster: big-bucket star (per band)", "bucket", "bucket before"),
        ("near cluster: verify, sketches meet the hub", "sketch", "sketch before"),
        ("near cluster: components, a star's edges", "edge", "edge before"),
        ("near cluster: members meet the kept sketch", "sketch", "member before"),
    ]
    return [
        (name, per_salt, per_salt * e[now], members, members * e[before])
        for name, now, before in rows
    ]


def _hot_run(members: int) -> dict[str, int]:
    """Largest value list under one key in a DirectRunner run of one exact group and one
    near cluster (each page a one-word edit of one base) of `members` pages."""
    import apache_beam as beam

    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.core.config.text import ExactDedupConfig
    from polymix.pipelines.text_dedup import TextDuplicates

    def build(pipeline) -> None:
        shards = list(range((members + 999) // 1000))
        from benchmarks.minhash import _hot_shard

        examples = (
            pipeline
            | "Shards" >> beam.Create(shards)
            | "Generate" >> beam.FlatMap(_hot_shard, members)
        )
        config = NearDedupConfig(max_rounds=12)
        _ = examples | "Text" >> TextDuplicates(ExactDedupConfig(), config)

    stages = _by_stage(_measure(build))
    return {stage: int(stats["largest"]) for stage, stats in stages.items()}


def _hot_shard(shard: int, members: int) -> list[Example]:
    base = generate(1, seed=11)[0].text.split()
    out = []
    for i in range(shard * 1000, min(members, (shard + 1) * 1000)):
        words = base[:]
        words[(i * 7) % len(words)] = f"edit{i}"
        out.append(Example(source="web", id=f"near{i:07d}", modality="text", text=" ".join(words)))
        out.append(Example(source="web", id=f"copy{i:07d}", modality="text", text=" ".join(base)))
    return out


def _human(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def bench_hot(members: int, run_members: int) -> None:
    print(f"one hot exact group and one hot near cluster of {members:,} pages each, per key:")
    print(f"  {'shuffle':<45}{'values':>9}{'bytes':>10}{'before':>11}{'bytes':>10}{'ratio':>9}")
    for name, values, size, old_values, old_size in hot_key_figures(members):
        print(
            f"  {name:<45}{values:>9,.0f}{_human(size):>10}{old_values:>11,.0f}"
            f"{_human(old_size):>10}{size / old_size:>9.1e}"
        )
    start = time.perf_counter()
    observed = _hot_run(run_members)
    expected = _largest_salt([f"near{i:07d}\x1fweb" for i in range(run_members)])
    print(
        f"  check, DirectRunner, {run_members:,} pages per group ({time.perf_counter() - start:.0f}s): "
        f"largest value list per key by stage {observed}; salts predict {expected} members "
        f"per key (+ the summary; a final-join key holds 1 document + its decisions)"
    )


def print_curve() -> None:
    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.core.lsh_curve import candidate_probability, recall_above

    config = NearDedupConfig()
    curves = {
        f"{config.num_perm} perms, {'x'.join(map(str, config.lsh_params()))}": config.lsh_params(),
        "128 perms, 9x13 (previous)": (9, 13),
    }
    print(f"threshold {config.threshold}, min_recall {config.min_recall}")
    print(f"{'J':>5s} " + " ".join(f"{name:>28s}" for name in curves))
    for j in (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        print(
            f"{j:5.2f} "
            + " ".join(f"{candidate_probability(j, *c):28.4f}" for c in curves.values())
        )
    print(
        "mean over [0.8, 1] "
        + " ".join(f"{recall_above(config.threshold, *c):28.4f}" for c in curves.values())
    )


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "_stage_child":
        rounds = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
        print(json.dumps(_stage_child(int(sys.argv[2]), rounds)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = ["signatures", "stage", "dedup", "hot", "curve", "chain", "all"]
    parser.add_argument("what", nargs="?", choices=choices, default="all")
    parser.add_argument("--docs", type=int, nargs="*", help="signatures: one size; stage: sizes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--members", type=int, default=10**6)
    parser.add_argument("--run-members", type=int, default=20000)
    parser.add_argument("--before", type=Path, help="stage: a checkout to compare with")
    parser.add_argument("--rounds", nargs="*", help="stage: max_rounds:floor_rounds sides")
    parser.add_argument("--pages", type=int, default=2000, help="chain: its length")
    parser.add_argument("--max-rounds", type=int, nargs="*", default=[4, 6, 8, 12, 24])
    args = parser.parse_args()
    if args.what == "stage" and (args.before or args.rounds):
        from benchmarks.stage_rounds import compare, parse_sides

        compare(parse_sides(args.before, args.rounds), (args.docs or [5000])[0], args.repeat)
        return
    if args.what in ("signatures", "all"):
        bench_signatures(
            args.docs[0] if args.docs and args.what == "signatures" else 2000, args.repeat
        )
    if args.what in ("stage", "all"):
        bench_stage(args.docs if args.docs and args.what == "stage" else [20000, 80000])
    if args.what == "dedup":
        bench_dedup(args.docs[0] if args.docs else 20000)
    if args.what == "hot":
        bench_hot(args.members, args.run_members)
    if args.what == "curve":
        print_curve()
    if args.what == "chain":
        from benchmarks.stage_rounds import chain_kept

        chain_kept(args.pages, args.max_rounds)


if __name__ == "__main__":
    main()
