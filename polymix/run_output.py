"""Where a run writes, how it is published with one small write, and what it never touches.

An output (a folder or a bucket prefix) holds:

    manifest.json       the published run: the small top level; `data` names its slot
    report/             the published run's report (a few files)
    data-a/, data-b/    the two slots: shards, rejected/, duplicates/, index/, the
                        tokenizer copy, stats.json and the slot's own manifest.json
                        (the same top level without `data`), plus `.polymix-slot`
    .polymix-lease      held by the run writing now (`polymix.run_lock`)
    .polymix-staging/   a report being swapped in

A run writes into the slot the live manifest does not name; into a fresh output, the
first (`data-a`), so two fresh runs of a corpus give the same bytes, manifest included.
It first writes `<slot>/.polymix-slot` (empty), claiming the slot; the pipeline writes
the slot's manifest.json last, which is the slot's finished marker. After the pipeline
and the report's staged render succeeded, the lease is read again and the run is
published by writing `OUT/manifest.json` naming the slot (`file_io.replace_small_file`:
temp + rename locally, one object upload on gs://). That write is the commit: readers
see the previous run before it and the new one after it, and no file of either run is
moved. Then the report is swapped in and the previous slot is deleted by its index
(`polymix.slot_deletion`); a failure there leaves garbage, never a broken run, and is
reported in one line: the next run finishes the job.

Before the commit a failure removes the new slot (by listing it: it is partial) and
the staged report, and the previous run is as it was. A killed run leaves a slot that
no manifest names: the next run, holding the lease, reports it in one line and clears
it before writing.

polymix owns `manifest.json` when it is a polymix manifest, `report/` when such a
manifest is there, a slot the live manifest names or that holds `.polymix-slot`, and
its bookkeeping. Anything else under those names is someone else's: the run is
refused before it starts, again once it holds the lease, and again before it
publishes. Other names in the output are never looked at. A run of the layout before
slots (schema 2: shards/, index/, ... at the top) is replaced the same way, except
that its names are deleted by listing them, once.

What the launcher does at 1 PB: the commit is one object write of ~0.15 MB, after a
few small reads (the lease, the names polymix owns; ~10 requests in all, counted by
`benchmarks/publish_scale.py`); the report swap moves ~30 objects; deleting the
previous slot is ~1.55x10^5 batch requests of 100 deletes from 16 threads, holding
one index file at a time (sizes and times in `polymix.slot_deletion`), after the new
run is published. The launcher lists no published run; the old layout's one-off
deletion, or clearing a killed run's slot, lists that prefix only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from polymix.core.errors import UserFacingError
from polymix.core.manifest import MANIFEST_NAME, Manifest
from polymix.pipelines.file_io import read_bytes, replace_small_file, write_bytes
from polymix.pipelines.object_store import (
    child,
    delete_tree,
    has_any,
    is_file,
    prune_empty_folder,
    top_level_names,
)
from polymix.run_lock import Lease, OutputLocked, still_held
from polymix.slot_deletion import SLOT_MARKER, delete_slot, finished_manifest

SLOTS = ("data-a", "data-b")
REPORT_DIR = "report"
STAGING = ".polymix-staging"
REPORT_PREFIX = "report-"  # a report staged by a run, or rendered by `polymix report`
OLD_MARKER = ".polymix-run"  # the layout before slots recorded the names it owned here
OLD_LAYOUT_NAMES = ("shards", "rejected", "duplicates", "index", "stats.json", "tokenizer.model")


class OutputCollision(OutputLocked):
    """The output holds a file or folder that polymix did not write, under a name it needs."""


class SlotNotCleared(UserFacingError):
    """A slot left by an earlier run could not be emptied, so this run cannot write there."""


@dataclass(frozen=True)
class LiveRun:
    """The published run, as `OUT/manifest.json` describes it."""

    slot: str | None  # the slot its manifest names; None: its files are at the top
    old_layout: tuple[str, ...] = ()  # top-level names of a run from before slots

    def names(self) -> list[str]:
        return [MANIFEST_NAME, *([f"{self.slot}/"] if self.slot else self.old_layout)]


def _read_json(path: str) -> dict | None:
    try:
        raw = json.loads(read_bytes(path))
    except Exception:  # noqa: BLE001  (missing, unreadable or not JSON: not ours)
        return None
    return raw if isinstance(raw, dict) else None


def live_run(output: str) -> LiveRun | None:
    """The run `output/manifest.json` publishes; None when there is no polymix manifest."""
    raw = _read_json(child(output, MANIFEST_NAME))
    if not raw or not {"schema_version", "config_hash"} <= set(raw):
        return None
    data = raw.get("data")
    if data in SLOTS:
        return LiveRun(data)
    if data is not None:  # a hand-placed run elsewhere: polymix deletes none of it
        return LiveRun(None)
    marker = _read_json(child(output, OLD_MARKER)) or {}
    claimed = marker.get("owns") if isinstance(marker.get("owns"), list) else OLD_LAYOUT_NAMES
    names = [n for n in OLD_LAYOUT_NAMES if n in claimed and has_any(child(output, n))]
    return LiveRun(None, tuple(names + ([OLD_MARKER] if marker else [])))


def next_slot(live: LiveRun | None) -> str:
    """The slot the live manifest does not name; the first one for a fresh output."""
    return SLOTS[1] if live is not None and live.slot == SLOTS[0] else SLOTS[0]


def is_claimed(output: str, slot: str) -> bool:
    return is_file(child(child(output, slot), SLOT_MARKER))


def foreign_names(output: str) -> list[str]:
    """Names polymix writes that hold something no polymix run wrote."""
    live = live_run(output)
    foreign = []
    if live is None:
        foreign += [n for n in (MANIFEST_NAME, REPORT_DIR) if has_any(child(output, n))]
    for slot in SLOTS:
        owned = (live is not None and live.slot == slot) or is_claimed(output, slot)
        if not owned and has_any(child(output, slot)):
            foreign.append(slot)
    return foreign


def refuse_foreign(output: str) -> None:
    foreign = foreign_names(output)
    if foreign:
        shown = ", ".join(child(output, name) for name in foreign)
        raise OutputCollision(
            f"{shown}: not written by polymix (no polymix {MANIFEST_NAME} or "
            f"{SLOT_MARKER} claims it); move it away or choose another --output"
        )


def check_output(output: str, *, overwrite: bool) -> None:
    """Refuse a run that would collide with foreign files or replace a run unasked."""
    refuse_foreign(output)
    live = live_run(output)
    if live is not None and not overwrite:
        held = ", ".join(live.names())
        raise OutputCollision(
            f"{output} already holds a polymix run ({held}); pass --overwrite to replace it"
        )


def clear_unpublished(output: str, live: LiveRun | None) -> list[str]:
    """Delete every slot the live manifest does not name; one notice for each."""
    notices = []
    for slot in SLOTS:
        folder = child(output, slot)
        if (live is not None and live.slot == slot) or not has_any(folder):
            continue
        finished = finished_manifest(folder) is not None
        what = "data no manifest publishes" if finished else "a run that stopped before finishing"
        result = delete_slot(folder)
        if result.problem:
            raise SlotNotCleared(f"could not clear {folder}/ before writing: {result.problem}")
        notices.append(f"cleared {folder}/, {what} ({result.deleted} files, by {result.how})")
    return notices


def clear_staging(output: str) -> list[str]:
    """Remove the report renders that runs or `polymix report` left when they stopped."""
    staging = child(output, STAGING)
    notices = []
    for name in top_level_names(staging):
        folder = child(staging, name)
        delete_tree(folder)
        notices.append(f"removed a report whose rendering stopped: {folder}")
    prune_empty_folder(staging)
    return notices


def claim_slot(output: str, slot: str) -> str:
    """Mark `slot` as this run's before anything is written into it; returns its folder."""
    folder = child(output, slot)
    write_bytes(child(folder, SLOT_MARKER), b"")
    return folder


def publish(output: str, lease: Lease, slot: str, manifest: Manifest) -> Manifest:
    """Write `output/manifest.json` naming `slot`: the commit. Returns it, bound to the slot."""
    refuse_foreign(output)
    published = manifest.model_copy(update={"data": slot})
    still_held(output, lease)
    replace_small_file(child(output, MANIFEST_NAME), published.to_json().encode("utf-8"))
    return published.bound_to(child(output, slot))


def retire(output: str, previous: LiveRun | None) -> list[str]:
    """Delete what the replaced run published; one notice for whatever is left behind."""
    if previous is None:
        return []
    if previous.slot is not None:
        result = delete_slot(child(output, previous.slot))
        if result.problem is None:
            return []
        return [f"the replaced run's {result.folder}/ is partly left: {result.problem}"]
    notices = []
    for name in previous.old_layout:
        try:
            delete_tree(child(output, name))
        except OSError as exc:
            notices.append(f"the replaced run's {child(output, name)} is partly left: {exc}")
    return notices


def staged_report(output: str, run_id: str) -> str:
    """Where a run stages its report until it is published."""
    return child(child(output, STAGING), REPORT_PREFIX + run_id)


def abandon(output: str, slot: str, run_id: str) -> None:
    """Remove this run's unpublished slot and staged report; the live run stays as it was.

    The manifest is read first: an upload that failed on the client's side may still
    have been committed by the store, and a slot the manifest names is never removed.
    """
    delete_tree(staged_report(output, run_id))
    prune_empty_folder(child(output, STAGING))
    live = live_run(output)
    if live is not None and live.slot == slot:
        return
    result = delete_slot(child(output, slot))
    if result.problem:
        raise OSError(result.problem)
