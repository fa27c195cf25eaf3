"""`polymix report OUT/`: render the run's report (HTML, mixture.json, charts, terminal table)."""

from __future__ import annotations

import argparse
import sys

from polymix.commands._arguments import positive_float


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render OUT/report/ (index.html, mixture.json, PNG charts) and print the summary",
    )
    parser.add_argument(
        "output", help="a run's output folder or gs:// prefix (holds manifest.json, stats.json)"
    )
    parser.add_argument(
        "--budget",
        type=positive_float,
        help="re-plan the mixture for this many training positions (e.g. 2e9) instead of the run's",
    )
    parser.add_argument(
        "--max-epochs", type=positive_float, help="re-plan with this epoch cap for every source"
    )
    parser.add_argument(
        "--mixture",
        metavar="ABLATION_JSON",
        help="re-plan from the weights `polymix ablate` chose; writes the report beside that file",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.config.mixture import MixtureConfig
    from polymix.pipelines.file_io import StorageFull
    from polymix.report import render_report

    replan = None
    if args.budget is not None or args.max_epochs is not None:
        settings = {"budget_tokens": int(args.budget) if args.budget is not None else None}
        if args.max_epochs is not None:
            settings["max_epochs"] = args.max_epochs
        replan = MixtureConfig(**settings)
    try:
        if args.mixture is not None:
            from polymix.report.ablation import render_mixture_report

            rendered = render_mixture_report(args.output, args.mixture, replan)
        else:
            rendered = render_report(args.output, replan)
    except StorageFull as exc:  # the report could not be written, the request was fine
        print(f"polymix report: error: {exc}", file=sys.stderr)
        return 1
    print(rendered.table)
    print(f"report: {rendered.html}")
    if args.mixture is not None:
        print(f"ablation page: {rendered.folder}/ablation.html")
    return 0 if rendered.data.plan is not None else 1
