"""`polymix verify OUT/manifest.json`: prove the manifest from the files it names.

Re-reads every shard (size, sha256, record count), every side file (size, sha256, lines
after decompression) and the tokenizer copy, and re-adds each source's totals from them.
Every problem is printed, each naming its file, then their count; the exit status is 1
when there is any. A manifest that names a path outside its run is refused outright (2).
Paths in the problems are relative to the folder the manifest names (`OUT/data-a/` for
a published run), which the last line says. Works on a local folder or a `gs://` prefix
alike.
"""

from __future__ import annotations

import argparse

from polymix.commands._output import add_json_flag, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="re-check shards, side files and tokenizer against the manifest; prove the accounting",
    )
    parser.add_argument("manifest", help="manifest.json or the run folder holding it (or gs://...)")
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from polymix.core.manifest import find_problems, load_manifest, manifest_location

    file, _ = manifest_location(args.manifest)
    manifest = load_manifest(file)
    problems = []
    for problem in find_problems(manifest):
        problems.append(str(problem))
        if not args.json:
            print(f"problem: {problem}", flush=True)
    records = sum(t.records for t in manifest.sources.values())
    side = sum(f.entries for f in manifest.index if f.kind not in ("shards", "eval"))
    if args.json:
        print_json(
            {
                "ok": not problems,
                "manifest": file,
                "root": manifest.root,
                "problems": problems,
                "shards": manifest.shard_count,
                "records": records,
                "side_file_entries": side,
                "sources": len(manifest.sources),
            }
        )
    elif problems:
        print(f"{len(problems)} problem(s) in {file} (paths under {manifest.root})")
    else:
        print(
            f"ok: {manifest.shard_count} shards, {records} records, {side} side files "
            f"re-counted, accounting balances for {len(manifest.sources)} source(s)"
        )
    return 1 if problems else 0
