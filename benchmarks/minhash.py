"""MinHasher against datasketch, and the whole near-dedup stage on DirectRunner.

    .venv/bin/python benchmarks/minhash.py                  # everything, default sizes
    .venv/bin/python benchmarks/minhash.py signatures --docs 2000
    .venv/bin/python benchmarks/minhash.py stage --docs 20000 80000

`signatures`: the same documents through `MinHasher.signatures` and through
`datasketch.MinHash.update_batch` (fed `MinHasher.shingles`, with the same hash function),
in the same run, on one core; checks the values are identical and prints the ratio.
`stage`: `NearDuplicates` with the default config on a generated corpus (10% of documents
are edited copies), one subprocess per size so each peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
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


def generate(n_docs: int, seed: int = 0, dup_share: float = 0.1) -> list[Example]:
    """Zipf-distributed pseudo-words, 50-600 words a document; `dup_share` are copies with
    2% of their words replaced. Vectorized, so generating is cheap next to deduplicating."""
    rng = np.random.default_rng(seed)
    syllables = np.array(["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "en", "ar", "ex", "po"])
    parts = syllables[rng.integers(0, len(syllables), (20000, 4))]
    lengths = rng.integers(1, 5, 20000)
    vocab = np.array(["".join(p[:n]) for p, n in zip(parts, lengths, strict=True)], dtype=object)
    vocab[rng.random(len(vocab)) < 0.05] += "."
    cumulative = np.cumsum(1.0 / np.arange(1, len(vocab) + 1))
    examples: list[Example] = []
    for i in range(n_docs):
        if examples and rng.random() < dup_share:
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


def _stage_child(n_docs: int) -> dict[str, float]:
    import apache_beam as beam

    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.pipelines.near_dedup import NearDuplicates

    counters: dict[str, int] = {}

    def run(dedup: bool) -> float:
        start = time.perf_counter()
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
                out = examples | NearDuplicates(NearDedupConfig())
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
        "rss_before_mib": before / 1024,
        "peak_rss_mib": peak / 1024,
        "stage_mib": (peak - before) / 1024,
        "counters": counters,
        "shuffle_bytes_per_doc": _shuffle_bytes_per_doc(n_docs, counters),
    }


def _shuffle_bytes_per_doc(n_docs: int, counters: dict[str, int]) -> dict[str, float]:
    """Bytes each shuffle carries per input document: the run's element counts times the
    mean encoded size (Beam's default FastPrimitivesCoder) of such elements on a sample."""
    from apache_beam.coders import FastPrimitivesCoder

    from polymix.core.config.near_dedup import NearDedupConfig
    from polymix.transforms.lsh import band_keys, node_key

    config = NearDedupConfig()
    bands, rows = config.lsh_params()
    coder = FastPrimitivesCoder()
    sample = generate(500, seed=99)
    hasher = MinHasher()
    signatures = hasher.signatures([e.text for e in sample])
    hashes, offsets = hasher.shingle_hashes([e.text for e in sample])

    def mean(values: list) -> float:
        return sum(len(coder.encode(v)) for v in values) / len(values)

    nodes = [node_key(e.source, e.id) for e in sample]
    sets = [
        (n, np.unique(hashes[offsets[i] : offsets[i + 1]]).tobytes()) for i, n in enumerate(nodes)
    ]
    bucket = mean(
        [
            (k, n)
            for n, sig in zip(nodes, signatures, strict=True)
            for k in band_keys(sig, bands, rows)
        ]
    )
    edge = mean(list(zip(nodes, nodes[1:], strict=False)))
    shingle_set = mean(sets)
    example = mean([(n, e) for n, e in zip(nodes, sample, strict=True)])
    member = mean(
        [
            (n, (False, e, sig.tobytes()))
            for n, e, sig in zip(nodes, sample, signatures, strict=True)
        ]
    )
    distinct_edges = counters.get("verified_edges", 0) + counters.get("false_positive_edges", 0)
    in_clusters = counters.get("duplicates", 0) + counters.get("clusters", 0)
    verified = counters.get("verified_edges", 0)
    per_doc = {
        "buckets": counters["documents"] * bands * bucket,
        # every set once, each candidate edge twice (as edge and as target mark)
        "verify_sets": counters["documents"] * shingle_set + 2 * counters["candidate_edges"] * edge,
        # at most: each distinct edge brings one set, and its target's own set once
        "verify_meet": distinct_edges * (2 * shingle_set + edge),
        "components_per_round": 3 * verified * edge,
        "final_join": counters["documents"] * example + 2 * counters.get("duplicates", 0) * edge,
        "members_to_root": in_clusters * member,
    }
    return {stage: round(total / n_docs, 1) for stage, total in per_doc.items()}


def _check_total(total: int, n_docs: int) -> None:
    if total != n_docs:
        raise AssertionError(f"{total} documents out, {n_docs} in")


def bench_stage(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "_stage_child", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"stage run with {n} docs failed")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(
        "near-dedup stage on DirectRunner (default config, verify on; docs/s excludes generating):"
    )
    for row in rows:
        print(
            f"  {row['docs']:7d} docs  {row['seconds']:6.1f} s (generating alone "
            f"{row['generate_seconds']:4.1f} s)  {row['docs_per_s']:6.0f} docs/s  "
            f"peak RSS {row['peak_rss_mib']:6.0f} MiB (before {row['rss_before_mib']:5.0f}, "
            f"stage +{row['stage_mib']:5.0f} MiB = {row['stage_mib'] * 1024 / row['docs']:.1f} KiB/doc)"
        )
    for row in rows:
        print(
            f"  {row['docs']} docs, shuffle bytes per input document: {row['shuffle_bytes_per_doc']}"
        )
        print(f"  counters: {row['counters']}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(
            f"  growth x{last['docs'] / first['docs']:.1f} docs -> stage memory "
            f"x{last['stage_mib'] / first['stage_mib']:.2f}, peak RSS x{last['peak_rss_mib'] / first['peak_rss_mib']:.2f}"
        )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "_stage_child":
        print(json.dumps(_stage_child(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=["signatures", "stage", "all"], default="all")
    parser.add_argument("--docs", type=int, nargs="*", help="signatures: one size; stage: sizes")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.what in ("signatures", "all"):
        bench_signatures(
            args.docs[0] if args.docs and args.what == "signatures" else 2000, args.repeat
        )
    if args.what in ("stage", "all"):
        bench_stage(args.docs if args.docs and args.what == "stage" else [20000, 80000])


if __name__ == "__main__":
    main()
