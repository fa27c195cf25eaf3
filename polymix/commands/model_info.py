"""`polymix model-info`: a preset's dimensions, parameter counts and FLOPs per token.

Counts come from `jax.eval_shape` over the real initializer, so they describe the
model that would be built, and the 90B preset prints in a second without memory.
"""

from __future__ import annotations

import argparse
from typing import Any

from polymix.commands._output import add_json_flag, print_json
from polymix.core.errors import UserFacingError

_DIMENSIONS = (
    "vocab_size",
    "d_model",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "d_ff",
    "n_experts",
    "top_k",
    "d_expert",
    "dense_every",
    "max_seq_len",
    "attention",
    "rope_theta",
    "logits_chunk",
    "dropless",
    "dtype",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "model-info", help="print a model preset's size: parameters and FLOPs per token"
    )
    parser.add_argument(
        "--model", required=True, help="preset name, e.g. tiny, demo, gemini-pro-90b"
    )
    parser.add_argument("--seq-len", type=int, default=None, help="context for attention FLOPs")
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def describe(name: str, seq_len: int | None = None) -> dict[str, Any]:
    from polymix.model.config import PRESETS
    from polymix.model.counting import flops_per_token, hardware_flops_per_token, param_counts

    if name not in PRESETS:
        raise UserFacingError(f"unknown model {name!r}; presets: {', '.join(sorted(PRESETS))}")
    cfg = PRESETS[name]
    if seq_len is not None and seq_len <= 0:
        raise UserFacingError(f"--seq-len must be positive, got {seq_len}")
    return {
        "model": name,
        "dimensions": {k: getattr(cfg, k) for k in _DIMENSIONS},
        "params": param_counts(cfg),
        "flops_per_token": flops_per_token(cfg, seq_len),
        "hardware_flops_per_token": hardware_flops_per_token(cfg, seq_len),
    }


def _human(n: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def run(args: argparse.Namespace) -> int:
    info = describe(args.model, args.seq_len)
    if args.json:
        print_json(info)
        return 0
    print(f"model {info['model']}")
    for key, value in info["dimensions"].items():
        print(f"  {key:<22} {value}")
    params = info["params"]
    print(f"  {'total params':<22} {params['total']:,} ({_human(params['total'])})")
    print(f"  {'active params/token':<22} {params['active']:,} ({_human(params['active'])})")
    for key in ("experts", "token_embedding", "head", "media_embedders"):
        print(f"    {key:<20} {params[key]:,}")
    flops = info["flops_per_token"]
    print(f"  {'forward FLOPs/token':<22} {_human(flops['forward'])} (seq_len {flops['seq_len']})")
    print(f"  {'train FLOPs/token':<22} {_human(flops['train'])} (model FLOPs: MFU)")
    executed = info["hardware_flops_per_token"]["train"]
    print(f"  {'executed FLOPs/token':<22} {_human(executed)} (remat, capacity slots: HFU)")
    return 0
