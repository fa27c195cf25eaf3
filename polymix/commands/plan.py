"""`polymix plan`: before spending a pod, check that a model fits and how long it trains.

Pure arithmetic over shapes (no devices needed): per-chip memory of every buffer of a
training step, a proposed data x fsdp x context x model x expert mesh with remat and
gradient accumulation, communication per step, and wall-clock time at a stated MFU
(with the HFU it implies).
"""

from __future__ import annotations

import argparse
import re

from polymix.commands._output import add_json_flag, print_json
from polymix.core.errors import UserFacingError

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}


def parse_count(text: str) -> float:
    """'2e12', '2T', '500B', '1_000_000' -> a number."""
    match = re.fullmatch(r"\s*([0-9._eE+-]+)\s*([kKmMbBgGtTpP]?)\s*", text)
    try:
        if not match:
            raise ValueError
        value = float(match.group(1).replace("_", ""))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (try 2e12 or 2T)") from exc
    return value * _SUFFIX.get(match.group(2).lower(), 1.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    from polymix.trainer.chips import CHIPS

    parser = subparsers.add_parser(
        "plan",
        help="per-chip memory, mesh and training time for a model on N chips",
        description="Chips known: "
        + ", ".join(
            f"{c.name} ({c.hbm_gb:g} GB, {c.bf16_tflops:g} TFLOP/s)" for c in CHIPS.values()
        ),
    )
    parser.add_argument("--model", required=True, help="model preset, e.g. gemini-pro-90b")
    parser.add_argument("--chips", type=int, required=True, help="number of chips")
    parser.add_argument("--chip", default="tpu-v4", help="chip name from the table, or 'custom'")
    parser.add_argument("--chip-memory-gb", type=float, help="HBM per chip (custom chip)")
    parser.add_argument("--chip-tflops", type=float, help="dense bf16 TFLOP/s (custom chip)")
    parser.add_argument(
        "--tokens", type=parse_count, required=True, help="tokens to train: 2e12, 2T"
    )
    parser.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilization (0.4)")
    parser.add_argument("--seq-len", type=int, help="default: the preset's max_seq_len")
    parser.add_argument("--global-batch", type=int, help="sequences per step (default ~16M tokens)")
    parser.add_argument(
        "--mesh", help="evaluate this data,fsdp,model,expert or data,fsdp,context,model,expert mesh"
    )
    parser.add_argument(
        "--headroom", type=float, default=0.10, help="HBM to leave free per chip (0.10)"
    )
    add_json_flag(parser)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="model field overrides")
    parser.set_defaults(handler=handle)


def _chip(args: argparse.Namespace):
    from polymix.trainer.chips import CHIPS, Chip

    custom = args.chip_memory_gb is not None or args.chip_tflops is not None
    if args.chip in CHIPS and not custom:
        return CHIPS[args.chip]
    if args.chip in CHIPS:
        base = CHIPS[args.chip]
        return Chip(
            f"{base.name} (modified)",
            args.chip_memory_gb or base.hbm_gb,
            args.chip_tflops or base.bf16_tflops,
        )
    if args.chip_memory_gb is None or args.chip_tflops is None:
        raise UserFacingError(
            f"unknown chip {args.chip!r}: use one of {', '.join(CHIPS)}, or give both "
            "--chip-memory-gb and --chip-tflops"
        )
    if args.chip_memory_gb <= 0 or args.chip_tflops <= 0:
        raise UserFacingError("--chip-memory-gb and --chip-tflops must be positive")
    return Chip(args.chip, args.chip_memory_gb, args.chip_tflops)


def _mesh(text: str):
    from polymix.trainer.plan_memory import PlanMesh

    try:
        sizes = [int(s) for s in text.split(",")]
        if len(sizes) == 4:
            data, fsdp, model, expert = sizes
            return PlanMesh(data, fsdp, model, expert)
        data, fsdp, context, model, expert = sizes
        return PlanMesh(data, fsdp, model, expert, context)
    except ValueError as exc:
        raise UserFacingError(
            f"--mesh {text!r}: want data,fsdp,model,expert or data,fsdp,context,model,expert"
        ) from exc


def handle(args: argparse.Namespace) -> int:
    from polymix.model.config import get_config
    from polymix.trainer.plan import make_plan
    from polymix.trainer.plan_report import plan_dict, render

    try:
        cfg = get_config(args.model, args.overrides)
    except (KeyError, ValueError) as exc:
        raise UserFacingError(str(exc.args[0] if exc.args else exc)) from exc
    if args.chips <= 0 or not 0 < args.mfu <= 1 or args.tokens <= 0:
        raise UserFacingError("--chips and --tokens must be positive and --mfu in (0, 1]")
    if not 0 <= args.headroom < 1:
        raise UserFacingError(f"--headroom {args.headroom}: want a fraction in [0, 1)")
    mesh = _mesh(args.mesh) if args.mesh else None
    try:
        plan = make_plan(
            cfg,
            chips=args.chips,
            chip=_chip(args),
            tokens=args.tokens,
            mfu=args.mfu,
            seq_len=args.seq_len,
            global_batch=args.global_batch,
            mesh=mesh,
            headroom=args.headroom,
        )
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print_json(plan_dict(plan))
    else:
        print(render(plan))
    return 0
