"""`polymix run CONFIG --output OUT [beam flags...]`."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the corpus pipeline (any extra flags go to Beam: --runner, --direct_num_workers, ...)",
    )
    parser.add_argument("config", help="YAML config (see `polymix init`)")
    parser.add_argument("--output", required=True, help="output folder (local path or gs://...)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run's output")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build the whole graph for the runner and print its stages; run nothing",
    )
    parser.set_defaults(handler=handle, accepts_extra=True)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.config import load_config
    from polymix.corpus_run import dry_run, is_remote, prepare, run_corpus, summary

    config = load_config(args.config)
    prepared = prepare(config, args.output, overwrite=args.overwrite, dry_run=args.dry_run)
    for warning in prepared.warnings:
        print(f"warning: {warning}")
    if args.dry_run:
        stages = dry_run(prepared, args.extra)
        print("\n".join(stages))
        print(f"dry run: {len(stages)} stages built, nothing was run")
        return 0
    manifest = run_corpus(prepared, args.extra)
    if is_remote(prepared.output):
        print(summary(manifest))
    else:
        from polymix.report.render import render_report

        rendered = render_report(prepared.output)
        print(rendered.table)
        print(summary(manifest, table=False))
        print(f"report: {rendered.html}")
    print(f"manifest: {prepared.output}/manifest.json")
    if manifest.plan is None:
        print("error: the mixture could not be planned (see the warning above)")
        return 1
    return 0
