"""Deleting a slot (`OUT/data-a/` or `OUT/data-b/`) that no published manifest names.

A finished slot, one whose own `manifest.json` parses, is deleted by its index: the
exact files the run wrote, streamed one index file at a time (each checked against
the slot's manifest before a name in it is trusted), in batches of 100 sent from 16
threads (`object_store.delete_files`). Then the index files, the tokenizer copy and
stats.json; then one bounded listing of the slot (at most `LEFTOVER_LIMIT` names, one
GCS list request per 1,000) catches what no index names: temporary files of a worker
that was killed, the report render. The slot's manifest goes last but one and its
claim marker last, so a deletion that stops half-way leaves a slot the next run still
recognises as polymix's and finishes: by the index again while the manifest is
there, by listing once it is gone.

A partial slot (a run stopped before its manifest was written) has no index to trust,
so it is deleted by listing its prefix, streamed a page at a time.

Sizes at 1 PB (~2.5x10^6 shards, ~1.3x10^7 side files, ~460 index files):

- by index: ~1.55x10^7 names, ~1.55x10^5 batch requests, 16 in flight; memory is one
  index file (~1.7 MiB gzip'd, ~32k entries streamed) plus ~3,200 names in flight, no
  listing at all (`benchmarks/publish_scale.py` counts 0.030 requests a file). The
  time is set by the bucket's write rate, not by this process: GCS starts a bucket at
  ~1,000 writes (deletes included) a second and doubles that every ~20 minutes of
  sustained load, so an estimated ~1.3 h for the whole slot, after the new run is
  already published, and never on the way to publishing it.
- by listing a partial slot: whatever the killed run had written, up to the same
  ~1.55x10^7 names, plus ~1.55x10^4 list requests made one after another (~0.1-0.3 s
  each: up to ~1 h for a run killed just before it finished); memory one page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from polymix.core.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    join,
    parse_manifest,
    read_bytes,
    read_index_file,
)
from polymix.pipelines.object_store import (
    Deleted,
    child,
    delete_files,
    iter_files,
    list_some,
    prune_empty_tree,
)

SLOT_MARKER = ".polymix-slot"  # written before a run writes into a slot: polymix owns it
STATS_NAME = "stats.json"
LEFTOVER_LIMIT = 10_000  # names the bounded listing after an index deletion looks at


@dataclass
class SlotDeletion:
    """How a slot was deleted, how many files that took, and what is left, in one line."""

    folder: str
    how: str  # "index" or "listing"
    deleted: int = 0
    problem: str | None = None  # None: nothing is left under the slot


def finished_manifest(folder: str) -> Manifest | None:
    """The slot's own manifest, bound to the slot; None for a partial (or unreadable) one."""
    path = child(folder, MANIFEST_NAME)
    try:
        return parse_manifest(read_bytes(path).decode("utf-8"), origin=path, folder=folder)
    except (OSError, UnicodeDecodeError, ManifestError):
        return None


def delete_slot(folder: str) -> SlotDeletion:
    """Delete everything under `folder/`: by its index when it has one, else by listing."""
    manifest = finished_manifest(folder)
    if manifest is None:
        return _by_listing(folder)
    try:
        return _by_index(folder, manifest)
    except ManifestError as exc:  # an index file gone or altered: nothing left to trust
        result = _by_listing(folder)
        result.how = f"listing, since {exc}"
        return result


def _indexed(manifest: Manifest) -> Iterator[str]:
    for info in manifest.index:
        for entry in read_index_file(manifest.root, info):
            yield join(manifest.root, entry.path)


def _named(manifest: Manifest) -> list[str]:
    names = [info.path for info in manifest.index] + [STATS_NAME]
    if manifest.tokenizer is not None:
        names.append(manifest.tokenizer.path)
    return [join(manifest.root, name) for name in names]


def _failed(deleted: Deleted, what: str) -> str:
    return (
        f"{deleted.failures} of {deleted.asked} {what} could not be deleted "
        f"(e.g. {'; '.join(deleted.examples)}); the next run retries"
    )


def _by_index(folder: str, manifest: Manifest) -> SlotDeletion:
    result = SlotDeletion(folder, "index")
    steps = (
        (_indexed(manifest), "files its index names"),
        (_named(manifest), "index files, stats.json and tokenizer copy"),
    )
    for names, what in steps:
        deleted = delete_files(names)
        result.deleted += deleted.asked - deleted.failures
        if deleted.failures:
            result.problem = _failed(deleted, what)
            return result
    own = {child(folder, MANIFEST_NAME), child(folder, SLOT_MARKER)}
    leftovers = [p for p in list_some(folder, LEFTOVER_LIMIT + len(own) + 1) if p not in own]
    if len(leftovers) > LEFTOVER_LIMIT:
        delete_files([child(folder, MANIFEST_NAME)])  # the next run lists it: see above
        result.problem = (
            f"more than {LEFTOVER_LIMIT} files its index does not name remain; the next "
            "run deletes them by listing"
        )
        return result
    return _finish(result, leftovers + [child(folder, MANIFEST_NAME)])


def _by_listing(folder: str) -> SlotDeletion:
    marker = child(folder, SLOT_MARKER)
    return _finish(SlotDeletion(folder, "listing"), (p for p in iter_files(folder) if p != marker))


def _finish(result: SlotDeletion, names: Iterable[str]) -> SlotDeletion:
    """Delete `names`, then the claim marker, then check that nothing is left."""
    steps = ((names, "files"), ([child(result.folder, SLOT_MARKER)], "claim markers"))
    for batch, what in steps:
        deleted = delete_files(batch)
        result.deleted += deleted.asked - deleted.failures
        if deleted.failures:
            result.problem = _failed(deleted, what)
            return result
    prune_empty_tree(result.folder)
    left = list_some(result.folder, 1)
    if left:
        result.problem = f"{left[0]} is still there (written while it was being deleted?)"
    return result
