"""Where a run writes, how it replaces the previous run, and what it never touches.

A run writes everything into `OUT/.polymix-staging/<run-id>/`. Only after the pipeline
and the report succeeded does it publish: it writes `OUT/.polymix-run` (its id and the
top-level names it owns), moves the previous run's files aside (manifest first, so no
reader meets a manifest whose shards are half replaced), moves its own into place with
the manifest last, and only then deletes what it moved aside. A run that fails leaves
the previous run as it was.

What a previous run owns is read from its `.polymix-run` marker, or, for a run written
before markers, from its `manifest.json` (then the usual output names it holds). Files
polymix did not write are never deleted: a new run whose output names collide with them
is refused before it starts and again right before it publishes.

A run that died leaves `OUT/.polymix-staging/<run-id>/` behind, with `.polymix-finished`
inside when it died while publishing; the next run holding the lease reports and removes it.

Sizes: publishing is done by the launcher, one top-level name at a time (see
`pipelines.object_store`): at 1 PB about 6x10^6 objects are moved twice (aside, then
into place), each a same-bucket metadata rewrite batched 100 to a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from polymix.core.manifest import MANIFEST_NAME
from polymix.pipelines.file_io import read_bytes, write_bytes
from polymix.pipelines.object_store import (
    child,
    delete_tree,
    has_any,
    move_tree,
    prune_empty_folder,
    top_level_names,
)
from polymix.run_lock import LEASE_NAME, Lease, OutputLocked, still_held

STAGING = ".polymix-staging"
MARKER = ".polymix-run"
FINISHED = ".polymix-finished"
RETIRED = "retired-"
REPORT_PREFIX = "report-"  # a report rendered outside a run (`polymix report`)
# What a run writes at the top of OUT; a folder or file of these names that no run owns is
# someone else's.
OUTPUT_NAMES = (
    "shards",
    "rejected",
    "duplicates",
    "report",
    "stats.json",
    MANIFEST_NAME,
    "index",  # the manifest's index files
    "tokenizer.model",
)
OWN_BOOKKEEPING = (STAGING, MARKER, LEASE_NAME)


class OutputCollision(OutputLocked):
    """The output holds a file or folder that polymix did not write, under a name it needs."""


@dataclass(frozen=True)
class PreviousRun:
    run_id: str | None  # None: a run written before markers, found by its manifest
    owns: tuple[str, ...]
    state: str  # "published", "publishing" (died while publishing) or "manifest"

    def describe(self) -> str:
        return f"run {self.run_id}" if self.run_id else "a polymix run"


def staging_folder(output: str, run_id: str) -> str:
    return child(child(output, STAGING), run_id)


def _read_json(path: str) -> dict | None:
    try:
        raw = json.loads(read_bytes(path))
    except Exception:  # noqa: BLE001  (missing, unreadable or not JSON: not ours)
        return None
    return raw if isinstance(raw, dict) else None


def previous_run(output: str) -> PreviousRun | None:
    """The polymix run that `output` holds, from its marker or its manifest; None if none."""
    marker = _read_json(child(output, MARKER))
    if marker and isinstance(marker.get("owns"), list):
        owns = tuple(str(name) for name in marker["owns"])
        return PreviousRun(str(marker.get("run_id")), owns, str(marker.get("state")))
    manifest = _read_json(child(output, MANIFEST_NAME))
    if manifest and {"schema_version", "config_hash", "shards"} <= set(manifest):
        owns = tuple(name for name in OUTPUT_NAMES if has_any(child(output, name)))
        return PreviousRun(None, owns, "manifest")
    return None


def foreign_names(output: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Names the run wants to write that exist in `output` but belong to no polymix run."""
    previous = previous_run(output)
    owned = set(previous.owns) if previous else set()
    return [
        name
        for name in names
        if name not in owned and name not in OWN_BOOKKEEPING and has_any(child(output, name))
    ]


def refuse_foreign(output: str, names: list[str] | tuple[str, ...]) -> None:
    foreign = foreign_names(output, names)
    if foreign:
        shown = ", ".join(child(output, name) for name in foreign)
        raise OutputCollision(
            f"{shown}: not written by polymix (no {MARKER} or {MANIFEST_NAME} claims it); "
            "move it away or choose another --output"
        )


def check_output(output: str, *, overwrite: bool) -> None:
    """Refuse a run that would collide with foreign files or replace a run unasked."""
    refuse_foreign(output, OUTPUT_NAMES)
    previous = previous_run(output)
    if previous and previous.owns and not overwrite:
        held = ", ".join(previous.owns)
        raise OutputCollision(
            f"{output} already holds {previous.describe()} ({held}); pass --overwrite to replace it"
        )


def clean_leftovers(output: str, keep: str) -> list[str]:
    """Remove what runs that died left in staging; returns one notice for each."""
    staging = child(output, STAGING)
    notices = []
    for name in top_level_names(staging):
        if name in (keep, RETIRED + keep):
            continue
        folder = child(staging, name)
        if name.startswith(RETIRED):
            what = f"files run {name[len(RETIRED) :]} moved aside while publishing"
        elif name.startswith(REPORT_PREFIX):
            what = "a report whose rendering stopped"
        elif has_any(child(folder, FINISHED)):
            what = f"run {name}, which stopped while publishing"
        else:
            what = f"run {name}, which stopped before publishing"
        delete_tree(folder)
        notices.append(f"removed the staging area of {what}: {folder}")
    return notices


def mark_finished(output: str, run_id: str) -> None:
    write_bytes(child(staging_folder(output, run_id), FINISHED), b"")


def _write_marker(output: str, run_id: str, owns: list[str], state: str) -> None:
    body = {"run_id": run_id, "owns": sorted(owns), "state": state}
    write_bytes(child(output, MARKER), (json.dumps(body, sort_keys=True) + "\n").encode())


def publish(output: str, lease: Lease) -> list[str]:
    """Move the finished run from staging into `output`; returns the names it now owns."""
    staging = staging_folder(output, lease.run_id)
    staged = [n for n in top_level_names(staging) if n != FINISHED]
    refuse_foreign(output, staged)
    previous = previous_run(output)
    old = [n for n in (previous.owns if previous else ()) if n not in OWN_BOOKKEEPING]
    still_held(output, lease)
    _write_marker(output, lease.run_id, sorted(set(staged) | set(old)), "publishing")
    retired = child(child(output, STAGING), RETIRED + lease.run_id)
    for name in sorted(old, key=lambda n: n != MANIFEST_NAME):  # the manifest goes first
        if has_any(child(output, name)):
            move_tree(child(output, name), child(retired, name))
    for name in sorted(staged, key=lambda n: n == MANIFEST_NAME):  # and comes back last
        if name == MANIFEST_NAME:
            still_held(output, lease)
        move_tree(child(staging, name), child(output, name))
    _write_marker(output, lease.run_id, staged, "published")
    delete_tree(retired)
    delete_tree(staging)
    prune_empty_folder(child(output, STAGING))
    return staged


def abandon(output: str, run_id: str) -> None:
    """Remove this run's staging area after a failure; the previous run stays as it was."""
    delete_tree(staging_folder(output, run_id))
    prune_empty_folder(child(output, STAGING))
