"""`polymix demo`: the whole main job on the built-in sample corpus (what `make demo` runs)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="sample corpus -> tokenizer -> pipeline -> verify")
    parser.add_argument("--output", default="out/demo", help="folder for corpus and results")
    parser.add_argument("--scale", type=int, default=4, help="size of the sample corpus")
    parser.set_defaults(handler=handle, accepts_extra=True)


def handle(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from polymix.cli import main as polymix

    root = Path(args.output)
    corpus, run = root / "corpus", root / "run"
    if corpus.exists():
        shutil.rmtree(corpus)
    root.mkdir(parents=True, exist_ok=True)
    config = str(corpus / "polymix.yaml")
    steps = [
        ["sample", str(corpus), "--scale", str(args.scale)],
        ["tokenizer", "train", config],
        [
            "classifier",
            "train",
            "--positive",
            str(corpus / "quality" / "positive.jsonl.gz"),
            "--negative",
            str(corpus / "quality" / "negative.jsonl.gz"),
            "--output",
            str(corpus / "classifier" / "quality.bin"),
        ],
        ["run", config, "--output", str(run), "--overwrite", *args.extra],
        ["verify", str(run / "manifest.json")],
    ]
    for step in steps:
        print(f"\n$ polymix {' '.join(step)}", flush=True)
        code = polymix(step)
        if code:
            return code
    print(f"\nmanifest: {run / 'manifest.json'}")
    return 0
