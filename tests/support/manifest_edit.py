"""Hand-edit a written run the way an attacker or a broken copy would.

Works on the raw JSON, not through `polymix.core.manifest`, so an edit can hold what
the models would refuse; index checksums are recomputed, as a careful attacker would.
Index files are where the top level's `data` says (a published run's slot).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

Entries = list[dict]


def _read_index(run: Path, info: dict) -> Entries:
    with gzip.open(run / info["path"], "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write_index(run: Path, relative: str, entries: Entries) -> tuple[int, str]:
    lines = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries).encode()
    data = gzip.compress(lines, mtime=0)
    (run / relative).parent.mkdir(parents=True, exist_ok=True)
    (run / relative).write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()


def edit_entries(run: Path, kind: str, change: Callable[[Entries], Entries]) -> None:
    """Replace every `kind` index file by one per source holding `change(all entries)`."""
    path = run / "manifest.json"
    raw = json.loads(path.read_text())
    run = run / raw["data"] if raw.get("data") else run
    old = [f for f in raw["index"] if f["kind"] == kind]
    entries = change([e for info in old for e in _read_index(run, info)])
    for info in old:
        (run / info["path"]).unlink()
    raw["index"] = [f for f in raw["index"] if f["kind"] != kind]
    by_source: dict[str, Entries] = {}
    for entry in entries:
        by_source.setdefault(entry["source"], []).append(entry)
    for source, members in sorted(by_source.items()):
        relative = f"index/{kind}/{source}/edited-00000.jsonl.gz"
        size, sha256 = _write_index(run, relative, members)
        raw["index"].append(
            {"path": relative, "kind": kind, "source": source, "entries": len(members)}
            | {"bytes": size, "sha256": sha256}
        )
    path.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n")


def edit_shard_entries(run: Path, change: Callable[[Entries], Entries]) -> None:
    """Rewrite the run's shard entries as `change` returns them, checksums kept consistent."""
    edit_entries(run, "shards", change)


def edit_top_level(run: Path, change: Callable[[dict], dict]) -> None:
    path = run / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text())), indent=2) + "\n")
