"""`polymix report OUT/`: render the run's report (HTML, mixture.json, charts, terminal table).

Re-planning (`--budget`, `--max-epochs`) and `--compare` write a page of their own beside
the run's report (or at `--output`), so the run's own report always shows the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from polymix.commands._arguments import positive_float
from polymix.commands._output import add_json_flag, json_only_on_stdout, print_json


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
        help="re-plan the mixture for this many training positions (e.g. 2e9) instead of the run's;"
        " writes OUT/report-budget-<n>.html",
    )
    parser.add_argument(
        "--max-epochs", type=positive_float, help="re-plan with this epoch cap for every source"
    )
    parser.add_argument(
        "--mixture",
        metavar="ABLATION_JSON",
        help="re-plan from the weights `polymix ablate` chose; writes the report beside that file",
    )
    parser.add_argument(
        "--compare",
        metavar="OTHER",
        help="another run's output: write OUT/compare-<OTHER's name>.html, the two side by side",
    )
    parser.add_argument(
        "--output",
        dest="page",
        metavar="PATH",
        help="write the re-planned or compared page here (one HTML file) instead",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.config.mixture import MixtureConfig
    from polymix.pipelines.file_io import StorageFull

    replan = None
    if args.budget is not None or args.max_epochs is not None:
        settings = {"budget_tokens": int(args.budget) if args.budget is not None else None}
        if args.max_epochs is not None:
            settings["max_epochs"] = args.max_epochs
        replan = MixtureConfig(**settings)
    try:
        with json_only_on_stdout(args):
            if args.mixture is not None:
                code, document = _mixture(args, replan)
            elif args.compare is not None:
                code, document = _compare(args, replan)
            else:
                code, document = _report(args, replan)
    except StorageFull as exc:  # the report could not be written, the request was fine
        print(f"polymix report: error: {exc}", file=sys.stderr)
        return 1
    if args.json and document is not None:
        print_json(document)
    return code


Outcome = tuple[int, dict[str, Any] | None]


def _report(args: argparse.Namespace, replan) -> Outcome:
    from polymix.report import render_report
    from polymix.report.pages import beside, render_replanned, replanned_name

    if replan is None and args.page is None:
        rendered = render_report(args.output)
    else:
        name = replanned_name(args.budget, args.max_epochs)
        rendered = render_replanned(args.output, replan, args.page or beside(args.output, name))
    return (0 if rendered.data.plan is not None else 1), _summary(args, rendered, {})


def _summary(args: argparse.Namespace, rendered, extra: dict[str, str]) -> dict[str, Any] | None:
    """The table for people (printed now), or the same figures as one JSON document."""
    if not args.json:
        print(rendered.table)
        print(f"report: {rendered.html}")
        for label, path in extra.items():
            print(f"{label.replace('_', ' ')}: {path}")
        return None
    from polymix.report.data import mixture_json

    return {
        "report": str(rendered.html),
        "mixture_json": str(rendered.mixture),
        "charts": sorted(str(p) for p in rendered.pngs),
        "mixture": mixture_json(rendered.data),
        "sources": {row.name: dataclasses.asdict(row) for row in rendered.data.rows},
        "funnel": [dataclasses.asdict(step) for step in rendered.data.funnel],
        **extra,
    }


def _mixture(args: argparse.Namespace, replan) -> Outcome:
    from polymix.report.ablation import render_mixture_report

    if args.compare is not None or args.page is not None:
        print("polymix report: error: --mixture takes no --compare or --output", file=sys.stderr)
        return 2, None
    rendered = render_mixture_report(args.output, args.mixture, replan)
    extra = {"ablation_page": f"{rendered.folder}/ablation.html"}
    return (0 if rendered.data.plan is not None else 1), _summary(args, rendered, extra)


def _compare(args: argparse.Namespace, replan) -> Outcome:
    from polymix.report.pages import beside, compare_name, render_comparison

    if replan is not None:
        print("polymix report: error: --compare takes no --budget or --max-epochs", file=sys.stderr)
        return 2, None
    target = args.page or beside(args.output, compare_name(args.compare))
    render_comparison(args.output, args.compare, target)
    if not args.json:
        print(f"comparison: {target}")
    return 0, {"comparison": str(target)}
