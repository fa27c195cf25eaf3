"""`polymix demo`: the whole main job on the built-in sample corpus (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from polymix.commands._arguments import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="sample corpus -> tokenizer -> classifier -> pipeline -> verify -> train -> ablate",
    )
    parser.add_argument("--output", default="out/demo", help="folder for corpus and results")
    parser.add_argument("--scale", type=positive_int, default=4, help="size of the sample corpus")
    parser.add_argument("--steps", type=positive_int, default=30, help="training steps at the end")
    parser.add_argument(
        "--proxies", type=int, default=8, help="mixture-ablation proxies at the end (0: none)"
    )
    parser.add_argument("--proxy-steps", type=positive_int, default=30, help="steps per proxy")
    parser.add_argument(
        "--side-by-side",
        type=positive_int,
        default=8,
        metavar="K",
        help="proxies trained at once as one vmapped step (1: one by one)",
    )
    parser.set_defaults(handler=handle, accepts_extra=True)


def handle(args: argparse.Namespace) -> int:
    import shutil

    from polymix.commands import run_command_line as polymix
    from polymix.commands._beam_flags import check_beam_flags

    check_beam_flags(args.extra)
    root = Path(args.output)
    corpus, run, train = root / "corpus", root / "run", root / "train"
    ablation = root / "ablation"
    for previous in (corpus, train, ablation):
        if previous.exists():
            shutil.rmtree(previous)
    root.mkdir(parents=True, exist_ok=True)
    steps = _main_steps(args, corpus, run, train)
    if args.proxies > 0:
        sweep = ablation_command(run, ablation, args.proxies, args.proxy_steps, args.side_by_side)
        steps += [sweep, ["report", str(run), "--mixture", str(ablation / "ablation.json")]]
    for step in steps:
        print(f"\n$ polymix {' '.join(step)}", flush=True)
        code = polymix(step)
        if code:
            return code
    _print_outputs(run, train, ablation if args.proxies > 0 else None)
    return 0


def _main_steps(args: argparse.Namespace, corpus: Path, run: Path, train: Path) -> list[list[str]]:
    """The commands before the ablation: corpus, its models, the run, its check, training."""
    config = str(corpus / "polymix.yaml")
    return [
        ["sample", "--output", str(corpus), "--scale", str(args.scale)],
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
        ["model-info", "--model", "demo"],
        [
            "train",
            str(run / "manifest.json"),
            "--model",
            "demo",
            "--steps",
            str(args.steps),
            "--output",
            str(train),
            "global_batch_size=4",
            "warmup_steps=5",
            "peak_lr=3e-3",
            "checkpoint_every=10",
            "model.vocab_size=2048",
        ],
    ]


def _print_outputs(run: Path, train: Path, ablation: Path | None) -> None:
    """Where to look next: the demo's point is what it wrote."""
    from polymix.core.manifest import load_manifest

    print(f"\nmanifest: {run / 'manifest.json'}")
    print(f"shards:   {load_manifest(run).root}/shards/ (the slot the manifest names)")
    print(f"report:   {run / 'report' / 'index.html'}")
    print(f"training: {train / 'metrics.jsonl'} and {train / 'loss.png'}")
    if ablation is not None:
        print(f"ablation: {ablation / 'ablation.json'} and {ablation / 'report' / 'index.html'}")


# The tiny preset with the demo run's vocabulary and media layout (the trainer refuses a
# model whose embedders differ from the manifest's), so a proxy trains in seconds.
DEMO_PROXY_MODEL = (
    "model.vocab_size=2048",
    "model.max_seq_len=256",
    "model.patch_size=16",
    "model.max_patch_grid=32",
    "model.n_mels=128",
    "model.frame_stack=4",
    "model.max_audio_positions=256",
)


def ablation_command(
    run: Path, ablation: Path, proxies: int, steps: int, side_by_side: int
) -> list[str]:
    """The demo's sweep on the run's held-out sets, as a `polymix` command line.

    Side by side by default, so the demo exercises the sweep's vmapped path: on 2 CPU
    cores 8 proxies side by side cost ~1.05x the CPU of 8 one by one at the same steps
    (the group's shared set-up is offset by a dearer vmapped step) and choose the same
    weights; 60 steps would cost 1.6x (`benchmarks/demo_ablation.py`). Public so that
    benchmark times the demo's own line.
    """
    sweep = ["ablate", "--manifest", str(run / "manifest.json"), "--output", str(ablation)]
    sweep += ["--proxies", str(proxies), "--steps", str(steps), "--batch-size", "4"]
    sweep += ["--side-by-side", str(side_by_side), *DEMO_PROXY_MODEL]
    return sweep
