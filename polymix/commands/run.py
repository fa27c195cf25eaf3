"""`polymix run CONFIG --output OUT [--set key=value ...] [beam flags...]`."""

from __future__ import annotations

import argparse
import sys

from polymix.commands._output import add_json_flag, json_only_on_stdout, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the corpus pipeline (any extra flags go to Beam: --runner, --direct_num_workers, ...)",
    )
    parser.add_argument("config", help="YAML config (see `polymix init`)")
    parser.add_argument("--output", required=True, help="output folder (local path or gs://...)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous polymix run's output (published only after the new run succeeded)",
    )
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="take over the output's lock from a run on another machine that is no longer running",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key before validation (repeatable), e.g. near_dedup.threshold=0.7",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build the whole graph for the runner and print its stages; run nothing",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=handle, accepts_extra=True)


def handle(args: argparse.Namespace) -> int:
    from polymix.commands._beam_flags import check_beam_flags
    from polymix.core.config import load_config
    from polymix.corpus_run import dry_run, prepare, run_corpus
    from polymix.pipelines.file_io import StorageFull, read_bytes

    check_beam_flags(args.extra)
    config = load_config(args.config, read_bytes, args.overrides)
    with json_only_on_stdout(args):
        prepared = prepare(config, args.output, overwrite=args.overwrite, dry_run=args.dry_run)
        for warning in prepared.warnings:
            print(f"warning: {warning}")
        if args.dry_run:
            stages = dry_run(prepared, args.extra)
        else:
            try:
                finished = run_corpus(prepared, args.extra, break_lock=args.break_lock)
            except StorageFull as exc:  # the run failed, not its invocation: exit 1, one line
                print(f"polymix run: error: {exc}", file=sys.stderr)
                return 1
    if args.dry_run:
        if args.json:
            print_json({"dry_run": True, "stages": stages, "warnings": prepared.warnings})
        else:
            print("\n".join(stages))
            print(f"dry run: {len(stages)} stages built, nothing was run")
        return 0
    planned = finished.manifest.plan is not None
    if args.json:
        print_json(run_summary(prepared, finished))
    else:
        print_run_summary(prepared, finished)
    return 0 if planned else 1


def run_summary(prepared, finished) -> dict:
    """What a run produced, per source, for `--json`."""
    manifest = finished.manifest
    return {
        "manifest": f"{prepared.output}/manifest.json",
        "report": str(finished.report_html) if finished.report_table is not None else None,
        "shards": manifest.shard_count,
        "sources": {name: t.model_dump() for name, t in sorted(manifest.sources.items())},
        "planned": manifest.plan is not None,
        "warnings": list(dict.fromkeys([*prepared.warnings, *manifest.warnings])),
        "notes": list(finished.notices),
    }


def print_run_summary(prepared, finished) -> None:
    from polymix.corpus_run import summary

    for notice in finished.notices:
        print(f"note: {notice}")
    if finished.report_table is not None:
        print(finished.report_table)
        print(summary(finished.manifest, table=False))
        print(f"report: {finished.report_html}")
    else:
        print(summary(finished.manifest))
    print(f"manifest: {prepared.output}/manifest.json")
    if finished.manifest.plan is None:
        print("error: the mixture could not be planned (see the warning above)")
