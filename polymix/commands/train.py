"""`polymix train OUT [key=value ...] --output CKPT`: shards in (a verified manifest), checkpoints out.

Everything that shapes the run is a `TrainConfig` key; `--model` and `--steps` are
flags only because every run names them. Trailing `key=value` pairs set the rest
(`peak_lr=3e-3 mesh=2,2,2 model.n_layers=2`); `--help` lists every key with its default.
Like `verify` and `report`, the run it reads comes first (its folder or its manifest.json);
`--manifest` and `--checkpoint-dir` are the older spellings and still work.
"""

from __future__ import annotations

import argparse
import re
import signal
import textwrap

from polymix.commands._output import add_json_flag, json_only_on_stdout, print_json
from polymix.core.errors import UserFacingError

_OVERRIDE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")


def register(subparsers: argparse._SubParsersAction) -> None:
    from polymix.commands._train_keys import keys_help

    parser = subparsers.add_parser(
        "train",
        help="train the MoE model on a manifest's shards (resumable)",
        description=textwrap.fill(
            "Train on a run's shards: OUT (the run folder) or OUT/manifest.json, then "
            "key=value for any trainer key below and model.<field>=value for the model preset."
        ),
        epilog=keys_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "arguments",
        nargs="*",
        metavar="MANIFEST key=value",
        help="the run folder or manifest.json from `polymix run`, then trainer keys",
    )
    parser.add_argument("--manifest", help=argparse.SUPPRESS)  # the older spelling
    parser.add_argument(
        "--output",
        "--checkpoint-dir",
        dest="checkpoint_dir",
        metavar="DIR",
        required=True,
        help="checkpoints, metrics, plots (also --checkpoint-dir)",
    )
    parser.add_argument("--model", default=None, help="model preset (tiny, demo, gemini-pro-90b)")
    parser.add_argument("--steps", type=int, default=None, help="train until this global step")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in the dir"
    )
    add_json_flag(parser)
    multi = parser.add_argument_group(
        "several processes",
        textwrap.fill(
            "one process per host; without these, POLYMIX_COORDINATOR / POLYMIX_PROCESS_ID / "
            "POLYMIX_NUM_PROCESSES, or a cluster JAX detects (TPU pod, SLURM, Open MPI, "
            "Kubernetes)"
        ),
    )
    multi.add_argument("--coordinator", help="HOST:PORT of process 0's coordination service")
    multi.add_argument("--process-id", type=int, help="this process's index, 0-based")
    multi.add_argument("--num-processes", type=int, help="processes in the run")
    parser.set_defaults(handler=handle, accepts_extra=True)


def manifest_and_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The manifest (first positional unless `--manifest` named it) and the key=value pairs."""
    # argparse stops a positional list at the first flag; what follows the flags comes as extra.
    flags = [word for word in args.extra if word.startswith("-")]
    if flags:
        raise UserFacingError(f"unrecognized argument {flags[0]} (see `polymix train --help`)")
    rest = [*args.arguments, *args.extra]
    if args.manifest is not None:
        return args.manifest, rest
    if not rest or _OVERRIDE.match(rest[0]):
        raise UserFacingError("name the run to train on first: OUT or OUT/manifest.json")
    return rest[0], rest[1:]


def handle(args: argparse.Namespace) -> int:
    from polymix.trainer.config import TrainConfig, apply_overrides
    from polymix.trainer.distributed import ensure_distributed
    from polymix.trainer.loop import train

    manifest, overrides = manifest_and_overrides(args)
    flags = []
    if args.model is not None:
        flags.append(f"model={args.model}")
    if args.steps is not None:
        flags.append(f"steps={args.steps}")
    cfg = apply_overrides(TrainConfig(), [*overrides, *flags])
    with json_only_on_stdout(args):
        ensure_distributed(args.coordinator, args.process_id, args.num_processes)
        result = train(cfg, manifest, args.checkpoint_dir, resume=args.resume)
    if args.json:
        print_json(result_summary(result, args.checkpoint_dir))
    else:
        print(result_line(result, args.checkpoint_dir))
    if result.stopped_by:
        return 128 + int(signal.Signals[result.stopped_by])
    return 0


def result_summary(result, checkpoint_dir: str) -> dict:
    return {
        "start_step": result.start_step,
        "final_step": result.final_step,
        "steps": result.final_step - result.start_step,
        "first_loss": result.losses[0] if result.losses else None,
        "last_loss": result.losses[-1] if result.losses else None,
        "skipped": result.skipped,
        "checkpoint_step": result.checkpoint_step,
        "checkpoint_dir": checkpoint_dir,
        "stopped_by": result.stopped_by,
    }


def result_line(result, checkpoint_dir: str) -> str:
    done = result.final_step - result.start_step
    last = f", last loss {result.losses[-1]:.4f}" if result.losses else ""
    first = f"first loss {result.losses[0]:.4f}" if result.losses else "nothing to do"
    return (
        f"trained steps {result.start_step}..{result.final_step} ({done} steps): {first}{last}; "
        f"{result.skipped} skipped; checkpoint step {result.checkpoint_step} in {checkpoint_dir}"
    )
