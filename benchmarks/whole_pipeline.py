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
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PARTS = 4
_TICK = os.sysconf("SC_CLK_TCK")
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


class PeakMemory:
    """Peak RSS and CPU of every process in a tree, polled from /proc while it runs."""

    def __init__(self, root_pid: int) -> None:
        self.root, self.peaks, self.names, self.cpu = root_pid, {}, {}, {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    def _poll(self) -> None:
        while not self._done.wait(0.05):
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.cpu[pid] = (int(stat[11]) + int(stat[12])) / _TICK
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        self.peaks[pid] = max(self.peaks.get(pid, 0), kib)
                        self.names[pid] = cmd.decode(errors="replace")[:120]

    def stop(self) -> dict[int, float]:
        self._done.set()
        self._thread.join()
        return {pid: kib / 1024 for pid, kib in self.peaks.items()}


def measured(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run `command`; its CPU-seconds (all descendants), wall time and peak RSS per process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    memory = PeakMemory(proc.pid)
    output = proc.communicate()[0]
    wall = time.perf_counter() - start
    peaks = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{command[:4]} failed:\n{output[-3000:]}")
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Killed DirectRunner workers may never be reaped: then only the poll saw their CPU.
    cpu = max(reaped, sum(memory.cpu.values()))
    processes = sorted(peaks.items(), key=lambda kv: -kv[1])
    return {
        "cpu": cpu,
        "wall": wall,
        "peaks": [(memory.names.get(pid, "?"), mib) for pid, mib in processes],
        "output": output,
    }


def run_polymix(
    config: Path, output: Path, workers: int, tree: Path = ROOT, env: dict | None = None
) -> dict:
    """`polymix run` from `tree` (its workers import polymix from there too)."""
    flags = [f"--direct_num_workers={workers}"]
    if workers > 1:
        flags.append("--direct_running_mode=multi_processing")
    command = [sys.executable, "-m", "polymix.cli", "run", str(config), "--output", str(output)]
    env = dict(env or os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH")) if p)
    return measured(command + flags, env, cwd=tree)


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
        from benchmarks.whole_pipeline_profile import profile

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
