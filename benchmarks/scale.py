"""How the text pipeline scales here, and what that implies for 1 PB on Dataflow.

    .venv/bin/python benchmarks/scale.py [--base-scale 8]

Measures, on this machine: throughput with 1 and 2 DirectRunner worker processes
(speed-up), wall time and peak memory at corpus sizes N, 2N, 4N (growth), the bytes
each document costs in every shuffle (by encoding real elements with the coder Beam
uses), and CPU-seconds per GB of text. Then extrapolates to 1 PB on Dataflow with the
prices and assumptions printed next to the table.
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


def shuffle_bytes_per_document(config_path: Path) -> dict[str, float]:
    """Encoded size of what each GroupByKey moves, per input document, with Beam's coder."""
    import functools

    from apache_beam.coders import FastPrimitivesCoder
    from apache_beam.io.filesystems import FileSystems

    from polymix.core.config import load_config
    from polymix.pipelines.grouped_write import Item
    from polymix.pipelines.read import file_id, open_raw
    from polymix.transforms.example import Example
    from polymix.transforms.hashing import content_hash
    from polymix.transforms.normalize import normalize_text
    from polymix.transforms.read_text import TextSourceSpec, read_text_file
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    config = load_config(config_path)
    coder = FastPrimitivesCoder()
    tokenizer = TextTokenizer(
        Path(config.resolve(config.tokenizer.model)).read_bytes(), config.shards.max_seq_len
    )
    totals = {"exact_dedup": 0, "write_shards": 0, "side_outputs": 0, "counts": 0}
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
                    totals["exact_dedup"] += len(
                        coder.encode((content_hash(example.text), example))
                    )
                    for record_id, payload, positions in tokenizer.records(
                        source.name, source.modality, example.id, example.text
                    ):
                        shard_item = Item((source.name,), record_id, payload, positions)
                        totals["write_shards"] += len(
                            coder.encode(((source.name, 0, 1), shard_item))
                        )
    return {stage: n / docs for stage, n in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-scale", type=int, default=8, help="N in the sample corpus's units")
    args = parser.parse_args()
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

    shuffle = shuffle_bytes_per_document(work / f"corpus-{sizes[0]}" / "polymix.yaml")
    _, docs, text_bytes, r = rows[-1]
    cpu_per_gb = r["cpu"] / (text_bytes / 1e9)
    per_doc_text = text_bytes / docs
    print("\nshuffle bytes per input document, by stage:")
    for stage, n in shuffle.items():
        print(f"  {stage:<14}{n:>10.0f} B  ({n / per_doc_text:.2f}x the document's text)")
    shuffle_ratio = sum(shuffle.values()) / per_doc_text
    print(f"CPU-seconds per GB of text (1 worker, DirectRunner): {cpu_per_gb:.0f}")

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


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - start:.0f}s)")
