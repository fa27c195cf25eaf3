"""text-dedup 0.4.1's MinHash dedup on a JSON-lines corpus, run by its own Python 3.12 venv.

    PYTHON3.12 benchmarks/peers/text_dedup_run.py CORPUS.jsonl OUT.json --num-perm 192 ...

Calls text-dedup's own stages in the order its `text_dedup.minhash.main` does
(fingerprint, cluster, assign, check_false_positives when verifying), on an in-memory
`datasets.Dataset` with `id`/`text` columns, so no file format of ours is involved.
Writes {"pairs": [[member, cluster id], ...], "cpu_s": ..., "startup_cpu_s": ...}: the
CPU of the dedup itself (`time.process_time`, all threads, one process: num_proc 1) and,
apart, of importing text-dedup and building the dataset.
"""

from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("output")
    parser.add_argument("--num-perm", type=int, required=True)
    parser.add_argument("--threshold", type=float, required=True)
    parser.add_argument("--ngram", type=int, required=True)
    parser.add_argument("--bands", type=int, help="with --rows; unset: text-dedup's own choice")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args()
    start = time.process_time()
    from datasets import Dataset, disable_progress_bars
    from text_dedup import minhash
    from text_dedup.config.algorithms.minhash import MinHashAlgorithmConfig

    disable_progress_bars()
    with open(args.corpus, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    ds = Dataset.from_dict({"text": [r["text"] for r in rows]})
    algo = MinHashAlgorithmConfig(
        algorithm_name="minhash",
        text_column="text",
        num_perm=args.num_perm,
        threshold=args.threshold,
        ngram_size=args.ngram,
        min_length=0,
        check_false_positive=args.verify,
        num_proc=1,
        bands=args.bands,
        rows=args.rows,
    )
    config = SimpleNamespace(algorithm=algo)
    ds = ds.map(lambda _, i: {algo.internal_index_column: i}, with_indices=True)
    startup = time.process_time() - start
    start = time.process_time()
    embedded = minhash.fingerprint(config, ds)
    parents = minhash.cluster(config, embedded)
    ds = minhash.assign(config, ds, parents)
    if args.verify:
        ds, parents = minhash.check_false_positives(config, ds)
    cpu = time.process_time() - start
    pairs = sorted([int(m), int(c)] for m, c in parents.items() if int(m) != int(c))
    result = {"pairs": pairs, "cpu_s": cpu, "startup_cpu_s": startup, "bands": algo.bands}
    result["rows"] = algo.rows
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
