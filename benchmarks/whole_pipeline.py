"""The whole text pipeline, polymix on DirectRunner vs DataTrove, on the real corpus.

    .venv/bin/python benchmarks/whole_pipeline.py [--docs N] [--rounds 2] [--workers 1 2]
        [--profile]

Both read the 6,151 real documents of `benchmarks/real_corpus.py` from the same four
JSONL files and do the same steps in the same order: MinHash near dedup over every
document (5-word shingles, 21 bands x 9 rows on both sides), then language ID, Gopher
repetition, Gopher quality, C4, FineWeb and PII (the chain of `benchmarks/filters.py`),
then SentencePiece tokenization with one model, writing tokens and every removed
document (jsonl.gz) to disk.

  polymix    `polymix run` on DirectRunner, `--direct_num_workers=N` (multi_processing
             for N > 1). It also normalizes, exact-dedups, verifies candidate pairs,
             accounts for every document and writes its manifest, statistics and report.
  DataTrove  LocalPipelineExecutor, N tasks and N workers for each stage: JsonlReader ->
             MinhashDedupSignature; MinhashDedupBuckets; MinhashDedupCluster; JsonlReader ->
             MinhashDedupFilter -> the filters (exclusion writers) -> a SentencePiece
             step writing uint32 token ids (DataTrove's own tokenizer takes HF models only).

Each side runs as a fresh process, rounds alternating which goes first. CPU: user +
system seconds of the process and all it started (RUSAGE_CHILDREN); memory: the peak
RSS (VmHWM) of each process of the run, polled every 50 ms from /proc. `--profile`
samples every process with `benchmarks/stack_sampler.py` and prints where polymix's
time goes, stage by stage, and what each DirectRunner worker did.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measured_process import measured, run_polymix  # noqa: E402
from benchmarks.whole_pipeline_profile import profile  # noqa: E402

PARTS = 4
BANDS, ROWS = 21, 9


def write_corpus(work: Path, docs: int | None) -> tuple[Path, int]:
    """The documents as PARTS JSONL files, a tokenizer model and a polymix config."""
    import yaml

    from benchmarks.filters import corpus
    from benchmarks.tokenize_stage import model_proto

    chosen = corpus(docs)
    folder = work / "corpus" / "docs"
    folder.mkdir(parents=True)
    parts = [(folder / f"part-{k}.jsonl").open("w", encoding="utf-8") for k in range(PARTS)]
    for i, doc in enumerate(chosen):
        parts[i % PARTS].write(json.dumps({"id": doc["id"], "text": doc["text"]}) + "\n")
    for part in parts:
        part.close()
    model = work / "corpus" / "tokenizer" / "spm.model"
    model.parent.mkdir()
    model.write_bytes(model_proto([d["text"] for d in corpus(None)], 8000))
    config = {
        "sources": [
            {
                "name": "real",
                "modality": "text",
                "paths": ["docs/*.jsonl"],
                "format": "jsonl",
                "id_field": "id",
            }
        ],
        "tokenizer": {"model": "tokenizer/spm.model", "vocab_size": 8000},
        "near_dedup": {"bands": BANDS, "rows": ROWS},
        "eval": {"fraction": 0.0},
    }
    path = work / "corpus" / "polymix.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, len(chosen)


def run_datatrove(corpus: Path, output: Path, workers: int) -> dict:
    command = [sys.executable, str(Path(__file__).with_name("datatrove_pipeline.py"))]
    command += [str(corpus / "docs"), str(corpus / "tokenizer" / "spm.model"), str(output)]
    command += [str(workers), str(BANDS), str(ROWS)]
    return measured(command)


def _worker_peak(result: dict, side: str) -> float:
    """The largest peak RSS among the processes that did the work."""
    if side == "polymix":
        workers = [mib for name, mib in result["peaks"] if "sdk_worker_main" in name]
    else:
        workers = [mib for name, mib in result["peaks"] if "datatrove_pipeline" in name]
    return max(workers or [mib for _, mib in result["peaks"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=None, help="real documents (all if unset)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--before", type=Path, help="another checkout to profile (--profile)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="polymix-whole-"))
    config, docs = write_corpus(work, args.docs)
    print(f"{docs} real documents in {PARTS} JSONL files under {work}")
    best: dict[tuple[str, int], dict] = {}
    for r in range(args.rounds):
        for workers in args.workers:
            sides = ["polymix", "datatrove"][:: 1 if r % 2 == 0 else -1]
            for side in sides:
                out = work / f"out-{side}-{workers}-{r}"
                if side == "polymix":
                    result = run_polymix(config, out, workers)
                else:
                    result = run_datatrove(config.parent, out, workers)
                key = (side, workers)
                print(
                    f"  round {r} {side:<9} {workers} worker(s): {result['cpu']:7.1f} CPU-s "
                    f"{result['wall']:7.1f} s wall, worker peak {_worker_peak(result, side):6.0f} MiB"
                )
                if key not in best or result["cpu"] < best[key]["cpu"]:
                    best[key] = result
    if best:
        _report(best, docs, args.workers)
    if args.profile:
        profile(config, work, docs, args.before)


def _report(best: dict, docs: int, workers: list[int]) -> None:
    print(f"\nbest of rounds, {docs} documents:")
    print(f"{'':<24}{'docs/CPU-s':>11}{'docs/s':>8}{'worker MiB':>11}{'all MiB':>9}")
    for (side, n), r in sorted(best.items()):
        total = sum(mib for _, mib in r["peaks"])
        print(
            f"{side + f' x{n}':<24}{docs / r['cpu']:>11.1f}{docs / r['wall']:>8.1f}"
            f"{_worker_peak(r, side):>11.0f}{total:>9.0f}"
        )
    for n in workers:
        ours, theirs = best[("polymix", n)], best[("datatrove", n)]
        print(
            f"{n} worker(s): polymix / DataTrove per CPU-second "
            f"{theirs['cpu'] / ours['cpu']:.2f}x, per wall-second {theirs['wall'] / ours['wall']:.2f}x"
        )
    if len(workers) > 1:
        lo, hi = min(workers), max(workers)
        for side in ("polymix", "datatrove"):
            speed = best[(side, lo)]["wall"] / best[(side, hi)]["wall"]
            print(f"{side}: {hi} workers vs {lo}, wall time: {speed:.2f}x")


if __name__ == "__main__":
    main()
