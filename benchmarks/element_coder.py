"""Element coders vs the pickle fallback they replace: CPU per encode + decode, bytes.

    .venv/bin/python benchmarks/element_coder.py [--docs 3000] [--rounds 5]

The elements are built from the real corpus (`benchmarks/real_corpus.py`) as they cross
stages: an `Example` as read (original fields as JSON), the same example tagged by the
filter chain (nested score dicts), a `Duplicate` and a `Rejection` of it, and an
`(id, Example)` pair as the dedup join keys it. Both sides are Beam's primitives coder
(what an untyped PCollection gets): before, falling back to pickle; now, to
`polymix.pipelines.element_coders.Elements`. Rounds alternate which side goes first;
CPU is `time.process_time`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def elements(docs: int) -> dict[str, list]:
    """Each kind of element, one per document of the first `docs` real documents."""
    from benchmarks.real_corpus import documents
    from polymix.core.config.filters import FiltersConfig
    from polymix.transforms.example import Duplicate, Example, Rejection
    from polymix.transforms.filters.stages import build_named_stages, run_stages

    config = FiltersConfig()
    names = [n for n in config.stages_for("text") if n not in ("language", "quality_classifier")]
    stages = build_named_stages(config, names)
    read, tagged = [], []
    for doc in documents()[:docs]:
        others = {k: v for k, v in doc.items() if k not in ("id", "text")}
        example = Example("real", doc["id"], "text", doc["text"], others)
        read.append(example)
        verdict = run_stages(stages, doc["text"][:20_000], explain_all=True)
        tagged.append(example.tagged(**verdict.attributes, minhash_cluster_size=1))
    return {
        "Example as read": read,
        "Example, filter tags": tagged,
        "(node, Example)": [(f"{e.id}\0real", e) for e in read],
        "Duplicate": [Duplicate(e, "near_dedup", "kept/id", 0.87) for e in read],
        "Rejection": [Rejection(e, "gopher_quality", "min_words", "") for e in tagged],
    }


def _cpu(impl, values: list) -> float:
    start = time.process_time()
    for value in values:
        impl.decode(impl.encode(value))
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import apache_beam as beam

    from polymix.pipelines.element_coders import PrimitivesCoder

    sides = {
        "pickle": beam.coders.FastPrimitivesCoder(beam.coders.PickleCoder()).get_impl(),
        "polymix": PrimitivesCoder().get_impl(),
    }
    kinds = elements(args.docs)
    text_bytes = sum(len(e.text.encode()) for e in kinds["Example as read"]) / args.docs
    print(f"{args.docs} real documents, {text_bytes:.0f} B of text each on average")
    print(
        f"{'element':<22}{'pickle µs':>10}{'ours µs':>9}{'ratio':>7}{'pickle B':>10}{'ours B':>8}"
    )
    for kind, values in kinds.items():
        for name, impl in sides.items():
            assert impl.decode(impl.encode(values[0])) == values[0], (kind, name)
        cpu = {name: 0.0 for name in sides}
        for r in range(args.rounds):
            for name in list(sides)[:: 1 if r % 2 == 0 else -1]:
                cpu[name] += _cpu(sides[name], values)
        per = {name: cpu[name] / (args.rounds * len(values)) * 1e6 for name in sides}
        size = {
            name: sum(len(impl.encode(v)) for v in values) / len(values) - text_bytes
            for name, impl in sides.items()
        }
        print(
            f"{kind:<22}{per['pickle']:>10.2f}{per['polymix']:>9.2f}"
            f"{per['pickle'] / per['polymix']:>6.2f}x"
            f"{size['pickle']:>10.0f}{size['polymix']:>8.0f}"
        )
    print("ratio: pickle CPU / ours (higher is better); B: bytes per element beyond the text")


if __name__ == "__main__":
    main()
