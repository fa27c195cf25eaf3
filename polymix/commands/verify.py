"""`polymix verify OUT/manifest.json`: re-check every shard against the manifest."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="re-check shards (size, sha256, records) and accounting"
    )
    parser.add_argument("manifest", help="manifest.json or the output folder holding it")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.manifest import verify_manifest

    manifest = verify_manifest(args.manifest)
    records = sum(s.records for s in manifest.shards)
    print(
        f"ok: {len(manifest.shards)} shards, {records} records, accounting balances for "
        f"{len(manifest.sources)} source(s)"
    )
    return 0
