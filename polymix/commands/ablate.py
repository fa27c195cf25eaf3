"""`polymix ablate`: train many tiny proxies on sampled mixtures, fit, and pick a mixture.

Settings come from flags or an `ablation:` section of a YAML file (`--config`), checked
by one schema (`polymix.ablation.settings`); a flag given wins over the file. Run it
again with the same flags to continue a sweep that was stopped.
"""

from __future__ import annotations

import argparse
import sys

from polymix.commands._arguments import positive_float, positive_int
from polymix.commands._output import add_json_flag, json_only_on_stdout, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ablate",
        help="choose a mixture by training proxy models on sampled mixtures (resumable)",
        description="RegMix-style sweep: proxies on Dirichlet-sampled mixtures, LightGBM and "
        "log-linear fits of held-out loss, a search within the epoch caps. Writes "
        "OUTPUT/ablation.json and charts; `polymix report OUT --mixture OUTPUT/ablation.json` "
        "re-plans the run's mixture from it.",
    )
    parser.add_argument("--manifest", required=True, help="manifest.json of a run with eval shards")
    parser.add_argument("--output", required=True, help="folder for proxies and ablation.json")
    parser.add_argument("--config", help="a YAML file whose `ablation:` section holds settings")
    parser.add_argument("--proxies", type=positive_int, help="proxy models to train (64)")
    parser.add_argument("--proxy-model", help="model preset of the proxies (tiny)")
    parser.add_argument("--steps", type=positive_int, help="training steps per proxy (400)")
    parser.add_argument("--seed", type=int, help="seed of mixtures, proxies and search (0)")
    parser.add_argument(
        "--spread",
        type=positive_float,
        dest="concentration",
        help="Dirichlet concentration around the planned weights; smaller spreads wider (4)",
    )
    parser.add_argument(
        "--objective", help="weights of each source's held-out loss: name=w,name=w (all equal)"
    )
    parser.add_argument("--folds", type=positive_int, help="cross-validation folds (5)")
    parser.add_argument("--batch-size", type=positive_int, help="global batch per proxy (8)")
    parser.add_argument(
        "--side-by-side",
        type=positive_int,
        metavar="K",
        help="train K proxies at once as one vmapped step on one device (1: one by one)",
    )
    parser.add_argument(
        "train_overrides", nargs="*", metavar="key=value", help="more `polymix train` keys"
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.ablation.settings import build_settings, parse_objective, read_section
    from polymix.ablation.sweep import run_ablation

    flags = {
        "proxies": args.proxies,
        "proxy_model": args.proxy_model,
        "steps": args.steps,
        "seed": args.seed,
        "concentration": args.concentration,
        "folds": args.folds,
        "batch_size": args.batch_size,
        "side_by_side": args.side_by_side,
        "objective": parse_objective(args.objective) if args.objective else None,
        "train_overrides": tuple(args.train_overrides) or None,
    }
    section = read_section(args.config) if args.config else None
    settings = build_settings(section, flags)
    with json_only_on_stdout(args):
        result = run_ablation(args.manifest, args.output, settings)
    if result is None:
        print(
            f"polymix ablate: stopped; run the same command again to continue {args.output}",
            file=sys.stderr if args.json else sys.stdout,
        )
        return 130
    if args.json:
        print_json(_summary(result, args.output))
        return 0
    chosen = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.chosen.weights.items()))
    print(
        f"chosen ({result.selected_fit} fit): {chosen}; predicted loss "
        f"{result.chosen.predicted_loss:.4f} ± {result.chosen.uncertainty:.4f} "
        f"(planned {result.planned.predicted_loss:.4f}, uniform {result.uniform.predicted_loss:.4f})"
    )
    print(f"ablation: {args.output}/ablation.json")
    return 0


def _summary(result, output: str) -> dict:
    """The chosen, planned and uniform mixtures with their predictions, and the fits' scores."""
    keys = ("weights", "predicted_loss", "uncertainty", "predicted_losses")
    return {
        "ablation": f"{output}/ablation.json",
        "proxies": len(result.proxies),
        "selected_fit": result.selected_fit,
        "fits": {name: fit.model_dump() for name, fit in result.fits.items()},
        **{
            name: {k: getattr(getattr(result, name), k) for k in keys}
            for name in ("chosen", "planned", "uniform")
        },
    }
