"""polymix near dedup against DataTrove's MinHash dedup on real text with planted copies.

    .venv/bin/python benchmarks/near_dedup_peers.py                 # all, 2 rounds
    .venv/bin/python benchmarks/near_dedup_peers.py --marginal      # + per document beyond fixed cost
    .venv/bin/python benchmarks/near_dedup_peers.py --docs 2000 --copies 400 --rounds 1

The corpus is the cached Debian documentation of `benchmarks/real_corpus.py` (man pages,
help pages, fortunes, dictionary entries, licences: text nobody here wrote), plus
`--copies` edited copies of random documents of 100+ words: each replaces a share of
its words (0.3-4%) with words of another document, so its Jaccard to its original,
measured on polymix's shingle sets (5-word shingles of normalized text), spans ~0.65-0.98.

Each contender deduplicates the whole corpus and gives its accepted pairs:
    polymix core   MinHasher + band_keys buckets + exact Jaccard (transforms/near_pairs.py)
    polymix Beam   NearDuplicates on DirectRunner in this process (removed -> kept pairs),
                   reading the texts as JSON lines; the same read alone is run as its own
                   contender and subtracted, so the row is the stage
    DataTrove      MinhashDedupSignature / Buckets / Cluster / Filter, default MinhashConfig
                   (14 x 8 hashes; it accepts every bucket collision, no verification)
    text-dedup     0.4.1's MinHash (fingerprint, cluster, verify on exact 5-gram Jaccard),
                   polymix's number of permutations and threshold, its own bands x rows,
                   in its own Python 3.12 venv (`benchmarks/peers/`), its CPU measured
                   there around the dedup alone (imports and dataset building apart)
Recall: share of planted copies at J >= 0.8 that end in their original's cluster (the
components of the accepted pairs). Precision: share of accepted pairs whose exact J is
>= 0.8. CPU: `time.process_time` of this process (all its threads), per document.
Contenders take turns, the order reversed every round; the best CPU of each is printed,
with its ratio to polymix core and to polymix Beam. `--marginal` runs the Beam stage and
text-dedup again on every other document and prints CPU per document beyond each one's
fixed cost (a graph of ~580 transforms costs DirectRunner seconds whatever the input).

text-dedup 0.4.1 needs Python 3.12, so it runs in a venv of its own, built once under
~/.cache/polymix/peers/ from a Python 3.12 on PATH or pyenv's (`--no-text-dedup` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import xxhash  # noqa: E402

from benchmarks import real_corpus  # noqa: E402
from benchmarks.peers.venvs import peer_python  # noqa: E402
from polymix.core.config.near_dedup import NearDedupConfig  # noqa: E402
from polymix.transforms.minhash import MinHasher, exact_jaccard  # noqa: E402
from polymix.transforms.near_pairs import near_duplicate_pairs  # noqa: E402

THRESHOLD = 0.8
EDIT_RATES = (0.003, 0.006, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04)
Pairs = set[tuple[int, int]]
BEAM, BEAM_READ = "polymix Beam DirectRunner", "polymix Beam: the read alone"
_DEFAULT = NearDedupConfig()
TEXT_DEDUP_OWN = f"text-dedup 0.4.1 {_DEFAULT.num_perm}p own"
TEXT_DEDUP = f"text-dedup 0.4.1 {_DEFAULT.num_perm}p {'x'.join(map(str, _DEFAULT.lsh_params()))}"
MARGINAL = (BEAM, BEAM_READ, TEXT_DEDUP)


def planted_corpus(n_docs: int | None, copies: int, seed: int = 0) -> tuple[list[str], dict]:
    """Real texts, then `copies` edited copies; {copy index: original index}."""
    texts = [d["text"] for d in real_corpus.documents()][:n_docs]
    rng = np.random.default_rng(seed)
    long_enough = [i for i, t in enumerate(texts) if len(t.split()) >= 100]
    originals: dict[int, int] = {}
    for original in rng.choice(long_enough, copies, replace=False).tolist():
        words = texts[original].split()
        donor = texts[int(rng.integers(len(texts)))].split()
        rate = EDIT_RATES[int(rng.integers(len(EDIT_RATES)))]
        for position in rng.choice(len(words), max(1, round(rate * len(words))), replace=False):
            words[position] = donor[int(rng.integers(len(donor)))]
        originals[len(texts)] = original
        texts.append(" ".join(words))
    return texts, originals


class Truth:
    """Exact Jaccard of any pair, on polymix's shingle sets (computed once per document)."""

    def __init__(self, texts: list[str]) -> None:
        hashes, offsets = MinHasher().shingle_hashes(texts)
        self.sets = [np.unique(hashes[offsets[i] : offsets[i + 1]]) for i in range(len(texts))]

    def __call__(self, a: int, b: int) -> float:
        return exact_jaccard(self.sets[a], self.sets[b])


def components(pairs: Pairs, n: int) -> np.ndarray:
    """Root of each document under the accepted pairs (union-find)."""
    parent = np.arange(n)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)])


def polymix_core(texts: list[str], config: NearDedupConfig) -> Pairs:
    return set(near_duplicate_pairs(texts, config))


def polymix_beam(corpus: Path, config: NearDedupConfig | None) -> Pairs:
    """`NearDuplicates` over the documents read from `corpus` (JSON lines), as a run reads
    its inputs; with `config` None, the same read alone (the baseline to subtract).

    Not `beam.Create(examples)`: Create pickles its whole list into the graph and Beam
    compresses that with bz2 at level 9, ~3 ms a document of CPU no run pays."""
    import apache_beam as beam

    from polymix.pipelines.dedup_alone import NearDuplicates

    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "pairs.txt"
        with beam.Pipeline() as pipeline:
            examples = (
                pipeline
                | beam.io.ReadFromText(str(corpus))
                | "Example" >> beam.Map(_example_of_line)
            )
            if config is None:
                lines = examples | beam.combiners.Count.Globally() | beam.Map(lambda _: [])
            else:
                lines = (
                    (examples | NearDuplicates(config))["duplicates"]
                    | "Removed" >> beam.Map(lambda d: f"{d.example.id} {d.kept_id}")
                    | beam.combiners.ToList()
                )
            _ = lines | beam.Map(lambda found: target.write_text("\n".join(found)))
        found = target.read_text().split("\n") if target.stat().st_size else []
    return {tuple(sorted(int(x) for x in line.split())) for line in found}


def _example_of_line(line: str):
    from polymix.transforms.example import Example

    record = json.loads(line)
    return Example(source="docs", id=f"{record['id']:07d}", modality="text", text=record["text"])


def write_corpus(texts: list[str], path: Path) -> Path:
    """The texts as JSON lines {id, text}: what the Beam stage and text-dedup read."""
    lines = (json.dumps({"id": i, "text": t}) for i, t in enumerate(texts))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def datatrove(texts: list[str]) -> Pairs:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )

    config = MinhashConfig()
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as scratch:
        sigs, dups, removed = (f"{scratch}/{name}" for name in ("sigs", "dups", "remove"))
        signature = MinhashDedupSignature(output_folder=sigs, config=config)
        signature._hash_func = _xxh64_of_text  # xxhash 4 no longer takes str
        signature.run(iter(docs), 0, 1)
        for bucket in range(config.num_buckets):
            MinhashDedupBuckets(input_folder=sigs, output_folder=dups, config=config).run(
                None, bucket, config.num_buckets
            )
        MinhashDedupCluster(input_folder=dups, output_folder=removed, config=config).run(None, 0, 1)
        kept = sum(1 for _ in MinhashDedupFilter(input_folder=removed).run(iter(docs), 0, 1))
        pairs: Pairs = set()
        for path in Path(dups).glob("*.dups"):
            data = path.read_bytes()
            for _f1, d1, _f2, d2 in struct.iter_unpack("<4I", data):
                pairs.add((min(d1, d2), max(d1, d2)))
    assert kept <= len(texts)
    return pairs


def text_dedup(
    texts: list[str], config: NearDedupConfig, python: Path, banding: tuple[int, int] | None
) -> tuple[Pairs, float]:
    """text-dedup's pairs (member, cluster id) and the CPU it reported for the dedup.

    `banding` None lets text-dedup choose bands x rows (its datasketch-style optimum);
    polymix's own (bands, rows) compares the two at the same candidate curve.
    """
    driver = Path(__file__).with_name("peers") / "text_dedup_run.py"
    with tempfile.TemporaryDirectory() as scratch:
        corpus = write_corpus(texts, Path(scratch) / "corpus.jsonl")
        out = Path(scratch) / "out.json"
        command = [str(python), str(driver), str(corpus), str(out)]
        command += ["--num-perm", str(config.num_perm), "--threshold", str(config.threshold)]
        command += ["--ngram", str(config.ngram), "--verify"]
        if banding is not None:
            command += ["--bands", str(banding[0]), "--rows", str(banding[1])]
        env = {**os.environ, "POLARS_MAX_THREADS": "1", "PYTHONPATH": ""}
        subprocess.run(command, check=True, env=env)
        result = json.loads(out.read_text())
    pairs = {(min(a, b), max(a, b)) for a, b in result["pairs"]}
    print(f"    text-dedup bands x rows: {result['bands']}x{result['rows']}")
    return pairs, result["cpu_s"]


def _xxh64_of_text(text: str) -> int:
    """What DataTrove's `xxhash64` returned for a str under xxhash 3 (UTF-8, seed 0)."""
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def scores(pairs: Pairs, originals: dict, truth: Truth, n: int) -> tuple:
    """(recall of planted copies at J >= 0.8, pair precision, planted copies < 0.8 joined,
    planted pairs at J >= 0.8 whose copy and original are both kept).

    Recall asks for the copy in its original's cluster. The last count asks what a reader
    of the output sees: a cluster keeping its smallest id (polymix's rule, and the
    smallest-index root of text-dedup's union-find), is a pair at J >= 0.8 still there?
    A cluster floor may cut a copy out of its original's cluster and still leave only
    one of the two (the original removed against a third document)."""
    root = components(pairs, n)
    similar = [(c, o) for c, o in originals.items() if truth(c, o) >= THRESHOLD]
    recall = sum(root[c] == root[o] for c, o in similar) / max(1, len(similar))
    precision = sum(truth(a, b) >= THRESHOLD for a, b in pairs) / max(1, len(pairs))
    joined_below = sum(root[c] == root[o] for c, o in originals.items() if truth(c, o) < THRESHOLD)
    both_kept = sum(root[c] == c and root[o] == o for c, o in similar)
    return recall, precision, joined_below, both_kept


def _timed(run: Callable[[], Pairs | tuple[Pairs, float]]) -> tuple[Pairs, float]:
    """Pairs and CPU-seconds: this process's, or what a peer in another process reported."""
    start = time.process_time()
    outcome = run()
    if isinstance(outcome, tuple):
        return outcome
    return outcome, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="real documents (all if unset)")
    parser.add_argument("--copies", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-beam", action="store_true", help="skip the DirectRunner run")
    parser.add_argument("--no-text-dedup", action="store_true", help="skip text-dedup")
    parser.add_argument(
        "--marginal",
        action="store_true",
        help="also run the Beam stage and text-dedup on every other document: CPU per "
        "document beyond each one's fixed cost",
    )
    args = parser.parse_args()
    texts, originals = planted_corpus(args.docs, args.copies)
    truth = Truth(texts)
    planted = [truth(c, o) for c, o in originals.items()]
    print(
        f"{len(texts)} documents ({len(originals)} planted copies, "
        f"{sum(j >= THRESHOLD for j in planted)} at J >= {THRESHOLD}), "
        f"{sum(map(len, texts)) / len(texts):.0f} characters each"
    )
    python = None if args.no_text_dedup else peer_python()
    if python is None and not args.no_text_dedup:
        print("text-dedup skipped: no Python 3.12 found (PATH or pyenv)")
    scratch = tempfile.TemporaryDirectory()
    contenders = contenders_for(texts, Path(scratch.name), python, not args.no_beam)
    MinHasher(num_perm=NearDedupConfig().num_perm).signatures(["warm up the compiled kernels"])
    if not args.no_beam:  # Beam's imports and first graph are no contender's cost
        polymix_beam(write_corpus(texts[:50], Path(scratch.name) / "warm.jsonl"), NearDedupConfig())
    best, results = timed_rounds(
        contenders, args.rounds, lambda p: scores(p, originals, truth, len(texts))
    )
    if args.marginal:
        half = texts[::2]
        print(f"every other document: {len(half)}")
        halves = contenders_for(half, Path(scratch.name) / "half", python, not args.no_beam)
        halves = {name: run for name, run in halves.items() if name in MARGINAL}
        half_best, _ = timed_rounds(halves, args.rounds, lambda p: (0.0, 0.0, 0, 0))
        print_marginal(best, half_best, len(texts), len(half))
    print_table(best, results, len(texts))


def contenders_for(
    texts: list[str], scratch: Path, python: Path | None, with_beam: bool
) -> dict[str, Callable[[], Pairs | tuple[Pairs, float]]]:
    """Every contender over `texts`, by name (the Beam ones read `scratch`'s JSON lines)."""
    new, old = NearDedupConfig(), NearDedupConfig(num_perm=128, bands=9, rows=13)
    bands, rows = new.lsh_params()
    contenders: dict[str, Callable[[], Pairs | tuple[Pairs, float]]] = {
        f"polymix core {new.num_perm}p {bands}x{rows}": lambda: polymix_core(texts, new),
        "polymix core 128p 9x13 (old)": lambda: polymix_core(texts, old),
        "datatrove 112p 14x8": lambda: datatrove(texts),
    }
    if with_beam:
        scratch.mkdir(parents=True, exist_ok=True)
        corpus = write_corpus(texts, scratch / "corpus.jsonl")
        contenders[BEAM] = lambda: polymix_beam(corpus, new)
        contenders[BEAM_READ] = lambda: polymix_beam(corpus, None)
    if python is not None:
        contenders[TEXT_DEDUP_OWN] = lambda: text_dedup(texts, new, python, None)
        contenders[TEXT_DEDUP] = lambda: text_dedup(texts, new, python, (bands, rows))
    return contenders


def timed_rounds(contenders: dict, rounds: int, score: Callable) -> tuple[dict, dict]:
    """Each contender's best CPU-seconds over `rounds` (order reversed every round), and
    the scores of its pairs."""
    best: dict[str, float] = {}
    results: dict[str, tuple[float, float, int]] = {}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            pairs, seconds = _timed(contenders[name])
            best[name] = min(best.get(name, float("inf")), seconds)
            results[name] = score(pairs)
            print(f"  round {round_} {name}: {seconds:.1f} CPU-s", flush=True)
    return best, results


def print_marginal(full: dict, half: dict, n_full: int, n_half: int) -> None:
    """CPU per document beyond each side's fixed cost: (all - every other) / the documents
    between; the Beam stage with its read subtracted at both sizes."""

    def stage(best: dict, name: str) -> float:
        return best[name] - (best[BEAM_READ] if name == BEAM else 0.0)

    extra = n_full - n_half
    marginal = {
        name: (stage(full, name) - stage(half, name)) / extra * 1000
        for name in (BEAM, TEXT_DEDUP)
        if name in full and name in half
    }
    for name, ms in marginal.items():
        fixed = stage(full, name) - ms * n_full / 1000
        print(f"marginal {name}: {ms:.3f} CPU-ms/doc (fixed ~{fixed:.1f} CPU-s)")
    if len(marginal) == 2:
        print(f"marginal: Beam stage {marginal[TEXT_DEDUP] / marginal[BEAM]:.2f}x text-dedup")


def print_table(best: dict[str, float], results: dict, n_docs: int) -> None:
    """Each contender's best CPU per document and its ratios; the Beam stage's row is the
    stage alone (its read's best subtracted), the read printed apart."""
    read = best.pop(BEAM_READ, None)
    if read is not None:
        print(f"{BEAM_READ}: {read:.1f} CPU-s, subtracted from {BEAM} ({best[BEAM]:.1f})")
        best[BEAM] -= read
    names = list(best)
    core, beam_s = best[names[0]], best.get(BEAM)
    print(
        f"{'contender':32s} {'CPU-ms/doc':>10s} {'/core':>7s} {'/Beam':>7s} {'recall':>7s}"
        f" {'precision':>9s} {'<0.8 joined':>11s} {'both kept':>9s}"
    )
    for name in names:
        ms = best[name] / n_docs * 1000
        recall, precision, below, both_kept = results[name]
        vs_beam = f"{best[name] / beam_s:7.2f}" if beam_s else f"{'-':>7s}"
        print(
            f"{name:32s} {ms:10.3f} {best[name] / core:7.2f} {vs_beam} {recall:7.3f}"
            f" {precision:9.3f} {below:11d} {both_kept:9d}"
        )


if __name__ == "__main__":
    main()
