"""Publishing by one manifest write between two slots, on a local folder and on a GCS emulator.

Runs here are small finished slots made by hand (`tests.support.run_layout`), published
through the same calls `polymix run` makes; the whole pipeline is in
tests/pipelines/test_output_safety.py and test_gcs_end_to_end.py.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from polymix.core.manifest import load_manifest
from polymix.pipelines import object_store
from polymix.pipelines.file_io import read_bytes
from polymix.run_lock import LEASE_NAME, OutputLocked, acquire, new_lease, release
from polymix.run_output import (
    OutputCollision,
    abandon,
    check_output,
    claim_slot,
    clear_unpublished,
    live_run,
    next_slot,
    publish,
    retire,
)
from polymix.slot_deletion import LEFTOVER_LIMIT, SLOT_MARKER
from tests.support.gcs_emulator import BUCKET
from tests.support.run_layout import put, small_slot, upload


@dataclass
class Place:
    """An output folder or prefix, and a local scratch folder to build slots in."""

    out: str
    scratch: Path

    @property
    def remote(self) -> bool:
        return self.out.startswith("gs://")

    def path(self, relative: str) -> str:
        return object_store.child(self.out, relative)

    def put(self, relative: str, data: bytes) -> None:
        put(self.path(relative), data)

    def files(self, under: str = "") -> dict[str, bytes]:
        root = self.path(under) if under else self.out
        paths = object_store.list_files(root)
        return {p[len(self.out) + 1 :]: read_bytes(p) for p in paths}


@pytest.fixture(params=["local", "gcs"])
def place(request, tmp_path) -> Place:
    if request.param == "local":
        (tmp_path / "out").mkdir()
        return Place(str(tmp_path / "out"), tmp_path / "scratch")
    request.getfixturevalue("gcs")
    return Place(f"gs://{BUCKET}/publish-{uuid.uuid4().hex[:8]}/out", tmp_path / "scratch")


@pytest.fixture()
def gcs_place(gcs, tmp_path) -> Place:
    return Place(f"gs://{BUCKET}/publish-{uuid.uuid4().hex[:8]}/out", tmp_path / "scratch")


def fill(place: Place, slot: str, tag: str):
    """What the pipeline does: the slot's files, its own manifest last."""
    local = place.scratch / tag
    manifest = small_slot(local, tag)
    folder = place.path(slot)
    if place.remote:
        upload(local, folder)
    else:
        shutil.copytree(local, folder, dirs_exist_ok=True)
    return manifest


def run(place: Place, tag: str) -> tuple[str, list[str]]:
    """One run as `polymix run --overwrite` makes it, less the pipeline and the report."""
    lease, _ = acquire(place.out)
    try:
        check_output(place.out, overwrite=True)
        previous = live_run(place.out)
        notices = clear_unpublished(place.out, previous)
        slot = next_slot(previous)
        claim_slot(place.out, slot)
        publish(place.out, lease, slot, fill(place, slot, tag))
        return slot, notices + retire(place.out, previous)
    finally:
        release(place.out, lease)


def test_runs_alternate_between_two_slots_and_a_fresh_output_uses_the_first(tmp_path):
    (tmp_path / "out").mkdir()  # gs:// runs are in the tests below
    place = Place(str(tmp_path / "out"), tmp_path / "scratch")
    for tag, slot, gone in [("one", "data-a", None), ("two", "data-b", "data-a")]:
        assert run(place, tag) == (slot, [])
        top = json.loads(place.files()["manifest.json"])
        assert top["data"] == slot and top["polymix_version"] == tag
        manifest = load_manifest(place.out)
        assert manifest.root == place.path(slot)
        shard = next(manifest.shards())
        assert (
            read_bytes(object_store.child(manifest.root, shard.path)) == f"{tag} shard 0".encode()
        )
        if gone:
            assert place.files(gone) == {}
    assert run(place, "three")[0] == "data-a"
    assert place.files("data-b") == {}
    assert sorted({name.split("/")[0] for name in place.files()}) == ["data-a", "manifest.json"]


def _generations(place: Place) -> dict[str, int]:
    from polymix.pipelines.file_io import gcs_bucket

    bucket, prefix = gcs_bucket(place.path(""))
    return {
        blob.name[len(prefix) :]: blob.generation
        for blob in bucket.client.list_blobs(bucket, prefix=prefix)
    }


def test_publishing_writes_one_object_at_the_top_level_and_nothing_else(gcs_place, gcs):
    place = gcs_place
    run(place, "one")
    place.put("report/index.html", b"<html>one</html>")
    lease, _ = acquire(place.out)
    try:
        claim_slot(place.out, "data-b")
        manifest = fill(place, "data-b", "two")
        before = _generations(place)
        with gcs.recording() as seen:
            publish(place.out, lease, "data-b", manifest)
        after = _generations(place)
    finally:
        release(place.out, lease)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"manifest.json"}
    writes = [r for r in seen if r.writes]
    assert [(r.method, r.name.rsplit("/", 1)[-1]) for r in writes] == [("POST", "manifest.json")]
    assert json.loads(read_bytes(place.path("manifest.json")))["data"] == "data-b"
    assert not any(r.lists and "maxResults" not in r.query() for r in seen)  # no full listing


def test_the_replaced_slot_is_deleted_by_its_index_in_batches_then_a_bounded_check(gcs_place, gcs):
    place = gcs_place
    run(place, "one")
    place.put("data-a/shards/web/web-00001-of-00003.array_record.tmp-0f3c", b"killed worker")
    indexed = len(place.files("data-a"))
    old = load_manifest(place.out)
    named = {e.path for e in old.shards()} | {e.path for e in old.side_files()}
    lease, _ = acquire(place.out)
    try:
        previous = live_run(place.out)
        claim_slot(place.out, "data-b")
        publish(place.out, lease, "data-b", fill(place, "data-b", "two"))
        with gcs.recording() as seen:
            assert retire(place.out, previous) == []
    finally:
        release(place.out, lease)
    assert place.files("data-a") == {}
    deletes = [r for r in seen if r.method == "DELETE"]
    assert len(deletes) == indexed and all(r.batched for r in deletes)
    listings = [r for r in seen if r.lists]
    # Nothing listed before the indexed files were gone; then the bounded check for what
    # no index names, then one name asked for to see that nothing is left.
    first_listing = seen.index(listings[0])
    by_index = {r.name.split("/data-a/", 1)[1] for r in seen[:first_listing] if r in deletes}
    assert named <= by_index  # every file the index names, none of them found by listing
    assert [r.query()["maxResults"] for r in listings] == [str(LEFTOVER_LIMIT + 3), "1"]


def test_a_failed_deletion_is_one_line_and_the_next_run_finishes_it(gcs_place, gcs):
    place = gcs_place
    run(place, "one")
    stuck = place.path("data-a/shards/web/web-00002-of-00003.array_record")
    with gcs.refusing_deletes({stuck.split("/", 3)[3]}):
        slot, notices = run(place, "two")
    assert slot == "data-b" and len(notices) == 1
    assert (
        "data-a/ is partly left: 1 of 4 files its index names could not be deleted" in (notices[0])
    )
    assert "HTTP 403" in notices[0] and "the next run retries" in notices[0]
    assert load_manifest(place.out).root == place.path("data-b")  # the new run is live
    assert "data-a/manifest.json" in place.files("data-a")  # so the next run uses the index
    slot, notices = run(place, "three")
    assert slot == "data-a" and place.files("data-b") == {}
    assert len(notices) == 1 and "data no manifest publishes" in notices[0]
    assert "by index" in notices[0]


def test_a_failure_after_the_commit_never_removes_the_slot_the_manifest_names(tmp_path):
    (tmp_path / "out").mkdir()
    place = Place(str(tmp_path / "out"), tmp_path / "scratch")
    run(place, "one")
    before = place.files()
    abandon(place.out, "data-a", "some-run")  # as after an upload the client saw fail
    assert place.files() == before


def test_a_run_that_lost_its_lease_publishes_nothing_and_the_live_run_stays(place):
    run(place, "one")
    live = place.files()
    lease, _ = acquire(place.out)
    claim_slot(place.out, "data-b")
    manifest = fill(place, "data-b", "two")
    taker = new_lease()  # what `--break-lock` from another machine leaves
    place.put(LEASE_NAME, taker.to_bytes())
    with pytest.raises(OutputLocked, match=r"lost its lock \(now held by .*nothing was published"):
        publish(place.out, lease, "data-b", manifest)
    after = place.files()
    assert {n: d for n, d in after.items() if not n.startswith(("data-b/", LEASE_NAME))} == live
    assert json.loads(after["manifest.json"])["data"] == "data-a"


def test_a_killed_runs_slot_is_cleared_by_listing_before_the_next_run_writes(place):
    run(place, "one")
    live = place.files()
    place.put(f"data-b/{SLOT_MARKER}", b"")
    place.put("data-b/shards/web/web-00000-of-00002.array_record", b"half a run")
    place.put("data-b/shards/web/web-00001-of-00002.array_record.tmp-9a", b"half a file")
    check_output(place.out, overwrite=True)  # the claimed slot is polymix's
    notices = clear_unpublished(place.out, live_run(place.out))
    assert len(notices) == 1
    assert "data-b/, a run that stopped before finishing (3 files, by listing)" in notices[0]
    assert place.files("data-b") == {}
    assert place.files() == live


def test_a_slot_polymix_did_not_claim_is_refused_and_kept(place):
    place.put("data-a/thesis.docx", b"three years of work")
    with pytest.raises(OutputCollision, match=r"data-a: not written by polymix"):
        check_output(place.out, overwrite=True)
    assert place.files() == {"data-a/thesis.docx": b"three years of work"}


def test_a_published_slot_needs_overwrite_and_the_other_slot_stays_refused(place):
    run(place, "one")
    with pytest.raises(
        OutputCollision, match=r"already holds a polymix run .*data-a/.*--overwrite"
    ):
        check_output(place.out, overwrite=False)
    place.put("data-b/mine.txt", b"mine")
    with pytest.raises(OutputCollision, match=r"data-b: not written by polymix"):
        check_output(place.out, overwrite=True)
    assert place.files("data-b") == {"data-b/mine.txt": b"mine"}


def test_a_run_of_the_layout_before_slots_is_replaced_and_other_files_kept(tmp_path):
    (tmp_path / "out").mkdir()
    place = Place(str(tmp_path / "out"), tmp_path / "scratch")
    old = {"schema_version": 2, "config_hash": "old", "index": []}
    place.put("manifest.json", json.dumps(old).encode())
    place.put("shards/web/web-00000-of-00001.array_record", b"old shard")
    place.put("index/shards/web/part-00000-of-00001.jsonl.gz", b"old index")
    place.put(".polymix-run", json.dumps({"owns": ["index", "manifest.json", "shards"]}).encode())
    place.put("stats.json", b"not claimed by the old run's marker")
    place.put("notes.txt", b"mine")
    assert live_run(place.out).old_layout == ("shards", "index", ".polymix-run")
    assert run(place, "new") == ("data-a", [])
    names = {name.split("/")[0] for name in place.files()}
    assert names == {"manifest.json", "data-a", "notes.txt", "stats.json"}
