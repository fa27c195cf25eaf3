"""Publishing over a previous run on an object store: one manifest write, against moving it.

    .venv/bin/python benchmarks/publish_scale.py [--objects 2000]

On the GCS emulator the tests use (fake-gcs-server behind `tests/support/gcs_emulator.py`,
whose journal records every request, each part of a batch on its own), a finished slot
of N indexed files is published over a previous run of N files with `run_output.publish`,
and the previous slot deleted with `run_output.retire`, as `polymix run` does.

Baseline, in the same run: publishing by moving, as polymix did before slots: the
previous run's files moved aside, the new run's moved from staging into place, the
moved-aside files deleted (`object_store.move_tree` and `delete_tree`; a GCS "move" is a
rewrite plus a delete per object, batched 100 to a request).

The counts of requests are exact and grow as the arithmetic says; the emulator's times
only show the shape (a real bucket is slower per request, and its write rate ramps up).
Scaled to 1 PB (~1.55x10^7 files a run: `benchmarks/manifest_scale.py`'s 2.5M shards and
13M side files), in the last lines.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILES_AT_PB = 2.5e6 + 13e6


def _upload(pair: tuple[str, bytes]) -> None:
    from polymix.pipelines.file_io import gcs_bucket

    path, data = pair
    bucket, name = gcs_bucket(path)
    bucket.blob(name).upload_from_string(data)


def upload_tree(local: Path, remote: str) -> int:
    files = [p for p in sorted(local.rglob("*")) if p.is_file()]
    pairs = [(f"{remote}/{p.relative_to(local).as_posix()}", p.read_bytes()) for p in files]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(_upload, pairs))
    return len(pairs)


def build_slot(folder: Path, files: int, tag: str):
    """A finished slot of `files` indexed shard files (a few bytes each), as a run leaves it."""
    import hashlib

    from polymix.core.manifest import Manifest, ShardInfo, SourceTotals, write_manifest
    from polymix.slot_deletion import SLOT_MARKER

    entries = []
    for k in range(files):
        relative = f"shards/web/web-{k:06d}-of-{files:06d}.array_record"
        data = f"{tag} {k}".encode()
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
        entries.append(
            ShardInfo(
                path=relative, source="web", modality="text", records=1, tokens=1,
                bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
            )
        )  # fmt: skip
    (folder / SLOT_MARKER).write_bytes(b"")
    (folder / "stats.json").write_bytes(b"{}\n")
    totals = SourceTotals(modality="text", weight=1.0, input=files, kept=files, records=files)
    top = Manifest(polymix_version=tag, config_hash=tag, max_seq_len=8, sources={"web": totals})
    return write_manifest(folder, top, entries, entries_per_file=1000)


def summary(seen) -> dict[str, int]:
    return {
        "writes": sum(1 for r in seen if r.writes),
        "requests": sum(1 for r in seen if not r.batched),  # what crossed the wire
        "lists": sum(1 for r in seen if r.lists),
    }


def measure(emulator, work: Path, root: str) -> dict[str, dict]:
    from polymix.core.manifest import load_manifest
    from polymix.run_lock import acquire, release
    from polymix.run_output import claim_slot, live_run, publish, retire

    out = f"{root}/slots"
    for slot, tag in (("data-a", "old"), ("data-b", "new")):
        upload_tree(work / tag, f"{out}/{slot}")
    lease, _ = acquire(out)
    try:
        publish(out, lease, "data-a", load_manifest(work / "old"))  # the previous run
        previous = live_run(out)
        claim_slot(out, "data-b")
        results = {}
        for step, action in (
            ("commit", lambda: publish(out, lease, "data-b", load_manifest(work / "new"))),
            ("delete the old slot", lambda: retire(out, previous)),
        ):
            start = time.perf_counter()
            with emulator.recording() as seen:
                action()
            results[step] = summary(seen) | {"seconds": time.perf_counter() - start}
    finally:
        release(out, lease)
    return results


def measure_moving(emulator, work: Path, root: str) -> dict[str, dict]:
    from polymix.pipelines.object_store import delete_tree, move_tree

    out = f"{root}/moving"
    upload_tree(work / "old", out)  # the previous run, at the top
    upload_tree(work / "new", f"{out}/.polymix-staging/run")
    names = ("shards", "index", "stats.json", "manifest.json")
    start = time.perf_counter()
    with emulator.recording() as seen:
        for name in names:
            move_tree(f"{out}/{name}", f"{out}/.polymix-staging/retired/{name}")
        for name in names:
            move_tree(f"{out}/.polymix-staging/run/{name}", f"{out}/{name}")
        delete_tree(f"{out}/.polymix-staging/retired")
    return {"move aside, move in, delete": summary(seen) | {"seconds": time.perf_counter() - start}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000, help="indexed files per run")
    args = parser.parse_args()
    from tests.support.gcs_emulator import BUCKET, GcsEmulator, apply_environment

    work = Path(tempfile.mkdtemp(prefix="polymix-publish-"))
    emulator = GcsEmulator(work)
    emulator.start()
    try:
        apply_environment(emulator.environment())
        emulator.create_bucket(BUCKET)
        for tag in ("old", "new"):
            build_slot(work / tag, args.objects, tag)
        slots = measure(emulator, work, f"gs://{BUCKET}/bench")
        moving = measure_moving(emulator, work, f"gs://{BUCKET}/bench")
    finally:
        emulator.stop()
    report(args.objects, slots, moving)


def _line(files: int, step: str, r: dict) -> str:
    return (
        f"{step} ({files:,} files a run): {r['writes']:,} object writes, "
        f"{r['requests']:,} requests, {r['lists']} listings, {r['seconds']:.2f} s"
    )


def report(files: int, slots: dict[str, dict], moving: dict[str, dict]) -> None:
    for step, r in slots.items():
        print(_line(files, step, r))
    ((step, moved),) = moving.items()
    print(_line(files, f"baseline {step}", moved))
    commit, deletion = slots["commit"], slots["delete the old slot"]
    print(
        f"commit against moving: {commit['writes']} vs {moved['writes']:,} object writes "
        f"(1/{moved['writes'] / commit['writes']:,.0f}), {commit['seconds']:.2f} s vs "
        f"{moved['seconds']:.2f} s ({commit['seconds'] / moved['seconds']:.4f}x)"
    )
    print(
        f"at 1 PB ({FILES_AT_PB:.2e} files a run): the commit stays 1 object write; moving "
        f"was ~{moved['writes'] / files * FILES_AT_PB:.2e} object writes before the run was "
        f"live; deleting the old slot afterwards is ~{math.ceil(FILES_AT_PB / 100):.2e} batch "
        f"requests ({deletion['requests'] / files:.3f} requests a file measured here), one "
        "index file in memory at a time, no listing of the run"
    )


if __name__ == "__main__":
    main()
