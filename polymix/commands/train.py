"""`polymix train`: shards in (a verified manifest), checkpoints and metrics out.

Everything that shapes the run is a `TrainConfig` key; `--model` and `--steps` are
flags only because every run names them. Trailing `key=value` pairs set the rest
(`peak_lr=3e-3 mesh=2,2,2 model.n_layers=2`).
"""

from __future__ import annotations

import argparse
import signal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the MoE model on a manifest's shards (resumable)",
        description="Train on OUT/manifest.json. Overrides: key=value for any TrainConfig key "
        "(see trainer/config.py), model.<field>=value for the model preset.",
    )
    parser.add_argument("--manifest", required=True, help="manifest.json from `polymix run`")
    parser.add_argument("--model", default=None, help="model preset (tiny, demo, gemini-pro-90b)")
    parser.add_argument("--steps", type=int, default=None, help="train until this global step")
    parser.add_argument("--checkpoint-dir", required=True, help="checkpoints, metrics, plots")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in the dir"
    )
    multi = parser.add_argument_group(
        "several processes",
        "one process per host; without these, POLYMIX_COORDINATOR / POLYMIX_PROCESS_ID / "
        "POLYMIX_NUM_PROCESSES, or a cluster JAX detects (TPU pod, SLURM, Open MPI, Kubernetes)",
    )
    multi.add_argument("--coordinator", help="HOST:PORT of process 0's coordination service")
    multi.add_argument("--process-id", type=int, help="this process's index, 0-based")
    multi.add_argument("--num-processes", type=int, help="processes in the run")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.trainer.config import TrainConfig, apply_overrides
    from polymix.trainer.distributed import ensure_distributed
    from polymix.trainer.loop import train

    flags = []
    if args.model is not None:
        flags.append(f"model={args.model}")
    if args.steps is not None:
        flags.append(f"steps={args.steps}")
    cfg = apply_overrides(TrainConfig(), [*args.overrides, *flags])
    ensure_distributed(args.coordinator, args.process_id, args.num_processes)
    result = train(cfg, args.manifest, args.checkpoint_dir, resume=args.resume)
    done = result.final_step - result.start_step
    last = f", last loss {result.losses[-1]:.4f}" if result.losses else ""
    first = f"first loss {result.losses[0]:.4f}" if result.losses else "nothing to do"
    print(
        f"trained steps {result.start_step}..{result.final_step} ({done} steps): {first}{last}; "
        f"{result.skipped} skipped; checkpoint step {result.checkpoint_step} in "
        f"{args.checkpoint_dir}"
    )
    if result.stopped_by:
        return 128 + int(signal.Signals[result.stopped_by])
    return 0
