"""One run at a time per output: a lease file `OUT/.polymix-lease`, created atomically.

Local folders create it with `O_CREAT | O_EXCL`; gs:// with an upload conditioned on
`if_generation_match=0` (the object must not exist), through the storage client Beam
itself builds (`GcsIO().client`). Either way exactly one of two racing runs creates it;
the other is refused with one line. Other Beam schemes have no exclusive create: there
a check-then-write leaves a window of one round trip in which two runs can both
believe they hold the lease, and the check right before publishing is the only guard.

A lease whose holder died (killed, machine lost) stays behind. On the same machine we
can tell: the process id is gone, or belongs to a process started at another moment
(`/proc/<pid>/stat`, so a recycled pid is not taken for the holder). From another
machine we cannot, and the user decides with `--break-lock`. Breaking is conditional
too: gs:// deletes the stale object only at the generation that was read (the emulator
we test with ignores that condition on deletes; GCS honours it); locally the stale file
is renamed away and checked before it is dropped, so a lease created in between is put
back. The lease is read again right before the manifest is published, and a run that
no longer holds it publishes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass

from polymix.core.errors import UserFacingError
from polymix.pipelines.file_io import gcs_bucket, is_remote, read_bytes, write_bytes
from polymix.pipelines.object_store import child, is_file

LEASE_NAME = ".polymix-lease"


class OutputLocked(UserFacingError):
    """Another run holds the output's lease (or took it over)."""


@dataclass(frozen=True)
class Lease:
    run_id: str
    host: str
    pid: int
    process_start: str | None

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), sort_keys=True) + "\n").encode("utf-8")

    def describe(self) -> str:
        return f"run {self.run_id}, pid {self.pid} on {self.host}"

    def holder_state(self) -> str:
        """'alive', 'dead' or 'unknown' (held from another machine)."""
        if self.host != socket.gethostname():
            return "unknown"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "dead"
        except PermissionError:
            pass  # someone else's process exists under that pid
        start = process_start(self.pid)
        if self.process_start and start and start != self.process_start:
            return "dead"  # the pid was recycled
        return "alive"


def process_start(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def new_lease() -> Lease:
    pid = os.getpid()
    return Lease(uuid.uuid4().hex[:16], socket.gethostname(), pid, process_start(pid))


def parse_lease(data: bytes) -> Lease | None:
    try:
        raw = json.loads(data)
        return Lease(str(raw["run_id"]), str(raw["host"]), int(raw["pid"]), raw["process_start"])
    except (ValueError, KeyError, TypeError):
        return None


def create_exclusive(path: str, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists; True when this call created it."""
    if path.startswith("gs://"):
        from google.api_core.exceptions import PreconditionFailed

        bucket, name = gcs_bucket(path)
        try:
            bucket.blob(name).upload_from_string(data, if_generation_match=0)
        except PreconditionFailed:
            return False
        return True
    if is_remote(path):
        if is_file(path):
            return False
        write_bytes(path, data)
        return True
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return True


def read_lease_bytes(output: str) -> bytes | None:
    path = child(output, LEASE_NAME)
    try:
        return read_bytes(path)
    except Exception:  # noqa: BLE001  (gone between the check and the read)
        return None


def remove_if_unchanged(path: str, expected: bytes) -> None:
    """Delete `path` only while it still holds `expected` (a lease nobody re-took)."""
    if path.startswith("gs://"):
        bucket, name = gcs_bucket(path)
        blob = bucket.get_blob(name)
        if blob is not None and blob.download_as_bytes() == expected:
            bucket.delete_blob(name, if_generation_match=blob.generation)
        return
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        if read_lease_bytes(path.rsplit("/", 1)[0]) == expected:
            FileSystems.delete([path])
        return
    aside = f"{path}.released-{uuid.uuid4().hex}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    with open(aside, "rb") as moved:
        taken = moved.read()
    if taken != expected:  # a lease created after we read: give it back
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    os.unlink(aside)


def acquire(output: str, *, break_lock: bool = False) -> tuple[Lease, Lease | None]:
    """Take the output's lease; returns it and the dead run's lease it replaced, if any."""
    lease, broken = new_lease(), None
    path = child(output, LEASE_NAME)
    for _ in range(3):
        if create_exclusive(path, lease.to_bytes()):
            return lease, broken
        held = read_lease_bytes(output)
        if held is None:
            continue  # released between our create and our read
        holder = parse_lease(held)
        state = holder.holder_state() if holder else "unknown"
        who = holder.describe() if holder else f"unreadable lease {path}"
        if state == "alive":
            raise OutputLocked(
                f"{output} is being written by another polymix run ({who}); "
                "wait for it to finish or choose another --output"
            )
        if state == "unknown" and not break_lock:
            raise OutputLocked(
                f"{output} is locked by another polymix run ({who}); if that run is no "
                "longer running, pass --break-lock"
            )
        remove_if_unchanged(path, held)
        broken = holder or broken
    raise OutputLocked(f"{output}: could not take the lease {path}; another run keeps taking it")


def still_held(output: str, lease: Lease) -> None:
    """Refuse to go on when the lease is no longer ours (broken by another run)."""
    held = read_lease_bytes(output)
    if held != lease.to_bytes():
        holder = parse_lease(held) if held else None
        now = f"now held by {holder.describe()}" if holder else "the lease is gone"
        raise OutputLocked(f"{output}: this run lost its lock ({now}); nothing was published")


def release(output: str, lease: Lease) -> None:
    remove_if_unchanged(child(output, LEASE_NAME), lease.to_bytes())
