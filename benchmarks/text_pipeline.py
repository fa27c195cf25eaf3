"""Text pipeline throughput vs. a plain single-process Python loop doing the same steps.

    .venv/bin/python benchmarks/text_pipeline.py [--scale 8]

Both sides read the same generated corpus (its text sources), normalize, exact-dedup,
near-dedup with MinHash LSH (the loop: datasketch's in-memory `MinHashLSH`), run the
same heuristic filters, tokenize with the same SentencePiece model and write
ArrayRecord files. The loop is the floor a data
engineer would write by hand; the ratio says what Beam's DirectRunner (and our
accounting, side outputs and deterministic sharding) cost or save on one core.
"""

from __future__ import annotations

import argparse
import functools
import glob
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def plain_loop(config, output: Path) -> tuple[int, int]:
    """The same steps in one process: read, normalize, exact dedup, MinHash LSH, filters, write."""
    from array_record.python.array_record_module import ArrayRecordWriter
    from datasketch import LeanMinHash, MinHashLSH

    from polymix.pipelines.read import open_raw
    from polymix.transforms.example import Example
    from polymix.transforms.filters import build_stages, load_models, run_stages
    from polymix.transforms.hashing import content_hash
    from polymix.transforms.minhash import MinHasher
    from polymix.transforms.normalize import normalize_text
    from polymix.transforms.read_text import TextSourceSpec, read_text_file
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    near = config.near_dedup
    bands, rows = near.lsh_params()
    hasher = MinHasher(num_perm=near.num_perm, seed=near.seed, ngram=near.ngram)
    lsh = MinHashLSH(num_perm=near.num_perm, params=(bands, rows))
    stages = {m: build_stages(config.filters, m) for m in ("text", "code")}
    for built in stages.values():
        load_models(built)
    tokenizer = TextTokenizer(
        Path(config.resolve(config.tokenizer.model)).read_bytes(), config.shards.max_seq_len
    )
    seen: set[str] = set()
    documents = text_bytes = 0
    for source in config.sources:
        spec = TextSourceSpec(
            source.name, source.modality, source.format, source.text_field, source.id_field
        )
        writer = ArrayRecordWriter(str(output / f"{source.name}.array_record"), "group_size:1")
        for pattern in source.paths:
            for path in sorted(glob.glob(config.resolve(pattern))):
                for item in read_text_file(spec, functools.partial(open_raw, path), path, path):
                    documents += 1
                    if not isinstance(item, Example):
                        continue
                    text_bytes += len((item.text or "").encode("utf-8"))
                    text = normalize_text(item.text or "")
                    digest = content_hash(text)
                    if not text or digest in seen:
                        continue
                    seen.add(digest)
                    signature = hasher.signatures([text])[0]
                    minhash = LeanMinHash(seed=near.seed, hashvalues=signature, scheme="affine32")
                    key = f"{source.name}/{item.id}"
                    if lsh.query(minhash):
                        continue
                    lsh.insert(key, minhash)
                    verdict = run_stages(stages[source.modality], text)
                    if not verdict.kept:
                        continue
                    for _, payload, _ in tokenizer.records(
                        source.name, source.modality, item.id, verdict.text
                    ):
                        writer.write(payload)
        writer.close()
    return documents, text_bytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=8)
    args = parser.parse_args()

    from benchmarks.text_corpus import text_only_corpus
    from polymix.cli import main as polymix
    from polymix.core.config import load_config
    from polymix.corpus_run import with_resolved_models

    work = Path(tempfile.mkdtemp(prefix="polymix-bench-"))
    config_path = text_only_corpus(work / "corpus", args.scale)
    config = with_resolved_models(load_config(config_path))

    (work / "loop").mkdir()
    start = time.perf_counter()
    documents, text_bytes = plain_loop(config, work / "loop")
    loop_seconds = time.perf_counter() - start

    start = time.perf_counter()
    polymix(["run", str(config_path), "--output", str(work / "beam"), "--direct_num_workers=1"])
    beam_seconds = time.perf_counter() - start

    mb = text_bytes / 1e6
    print(f"\ncorpus: {documents} documents, {mb:.2f} MB of text, scale {args.scale}")
    print(f"{'':<22}{'docs/s':>10}{'MB/s':>8}{'seconds':>9}")
    for name, seconds in (
        ("plain python loop", loop_seconds),
        ("polymix DirectRunner", beam_seconds),
    ):
        print(f"{name:<22}{documents / seconds:>10.0f}{mb / seconds:>8.2f}{seconds:>9.2f}")
    print(f"ratio polymix/loop: {loop_seconds / beam_seconds:.2f}x (one core each)")


if __name__ == "__main__":
    main()
