"""The manifest at 10^6 shards: its sizes, and what one process holds writing and reading it.

    .venv/bin/python benchmarks/manifest_scale.py [--shards 1000000] [--side-files 200000]

Builds the index of N synthetic shard entries and M side-file entries with the pipeline's
own pieces: `manifest_writer.shard_entry` / `side_entry`, `grouped_write`'s placement
(`ceil(bytes / target)` files per (kind, source), `hash(path) % n`) and its `_WriteGroupFn`
for every key, then `assemble_manifest` for the top level. A disk spool stands in for
Beam's shuffle, and every phase runs in its own process, so a phase's peak is what one
worker (or one reader) holds. Reading: `load_manifest`, every entry streamed, then one
source's shards held as the loader holds them.

Baseline, in the same run: the schema-1 manifest.json, which listed every shard in the
top level (built whole on one worker, parsed whole by every reader).

Peak memory is RSS above the process's own after its imports (ru_maxrss), so it counts
C allocations too. Then the figures are scaled to 1 PB: ~2.5M shards (1 PB x 30% kept at
128 MiB a shard, plus the records' own overhead) and ~13M side files (the 70% removed,
as JSON lines of ~1.2x the document, in 64 MiB parts, plus one part per small reason).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SOURCES = ("web", "code", "books", "papers", "images", "audio", "video", "forums")
STAGES = ("gopher_quality", "c4", "language", "exact_dedup", "near_dedup")
SHARDS_AT_PB = 2.5e6
SIDE_FILES_AT_PB = 13e6


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def written_shards(n: int) -> Iterator:
    """WrittenFile records as the shard writer emits them, spread over the sources."""
    from polymix.pipelines.grouped_write import WrittenFile

    per_source = math.ceil(n / len(SOURCES))
    for i in range(n):
        source, k = SOURCES[i % len(SOURCES)], i // len(SOURCES)
        path = f"shards/{source}/{source}-{k:06d}-of-{per_source:06d}.array_record"
        sha = hashlib.sha256(path.encode()).hexdigest()
        kinds = (("text", 61_000 + i % 997),)
        yield WrittenFile((source,), path, 30_000 + i % 1013, kinds[0][1], 134_000_000, sha, kinds)


def written_side_files(n: int) -> Iterator:
    from polymix.pipelines.grouped_write import WrittenFile

    for i in range(n):
        source, stage = SOURCES[i % len(SOURCES)], STAGES[(i // 8) % len(STAGES)]
        k = i // 40
        if stage.endswith("dedup"):
            group, kind = (source, stage), "duplicates"
        else:
            group, kind = (source, stage, f"reason_{i % 7}"), "rejected"
        path = f"{kind}/{'/'.join(group)}/part-{k:05d}-of-99999.jsonl.gz"
        sha = hashlib.sha256(path.encode()).hexdigest()
        yield kind, WrittenFile(group, path, 50_000 + i % 991, 0, 67_000_000, sha)


def items(shards: int, side_files: int) -> Iterator:
    from polymix.pipelines.manifest_writer import shard_entry, side_entry

    modalities = {s: "text" for s in SOURCES}
    for shard in written_shards(shards):
        yield shard_entry(shard, modalities)
    for kind, part in written_side_files(side_files):
        yield side_entry(part, kind)


def phase_spool(args) -> dict:
    """What the shuffle would do: every item under its (group, file index, file count) key."""
    from polymix.pipelines.grouped_write import _place

    group_bytes: dict[tuple, int] = {}
    for item in items(args.shards, args.side_files):
        group_bytes[item.group] = group_bytes.get(item.group, 0) + len(item.payload)
    counts = {g: max(1, math.ceil(b / args.target)) for g, b in group_bytes.items()}
    spool = Path(args.work) / "spool"
    spool.mkdir()
    handles: dict[tuple, object] = {}
    for item in items(args.shards, args.side_files):
        key, _ = _place(item, counts)
        if key not in handles:
            handles[key] = open(spool / f"{len(handles):06d}.bin", "wb")  # noqa: SIM115
            handles[key].write(json.dumps(list(key[0]) + list(key[1:])).encode() + b"\n")
        sort_key = item.sort_key.encode()
        handles[key].write(struct.pack("<II", len(sort_key), len(item.payload)))
        handles[key].write(sort_key + item.payload)
    for handle in handles.values():
        handle.close()
    return {"keys": len(handles), "entry_bytes": sum(group_bytes.values())}


def _load_key(path: Path):
    from polymix.pipelines.grouped_write import Item

    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    raw = json.loads(header)
    key = (tuple(raw[:2]), raw[2], raw[3])
    members, offset = [], 0
    while offset < len(body):
        n_key, n_payload = struct.unpack_from("<II", body, offset)
        offset += 8
        sort_key = body[offset : offset + n_key].decode()
        payload = body[offset + n_key : offset + n_key + n_payload]
        offset += n_key + n_payload
        members.append(Item(key[0], sort_key, payload))
    return key, members


def phase_write_index(args) -> dict:
    """Every key through the pipeline's own writer DoFn, one after the other."""
    from polymix.pipelines.grouped_write import _WriteGroupFn
    from polymix.pipelines.manifest_writer import _index_name

    base = _rss_mb()
    writer = _WriteGroupFn(args.work + "/run", "jsonl.gz", _index_name)
    written, largest = [], 0
    for path in sorted((Path(args.work) / "spool").iterdir()):
        key, members = _load_key(path)
        largest = max(largest, len(members))
        written += list(writer.process((key, members)))
        del members
    with open(Path(args.work) / "index.json", "w") as handle:
        json.dump([[list(w.group), w.path, w.records, w.bytes, w.sha256] for w in written], handle)
    return {"peak_mb": _peak_mb() - base, "files": len(written), "largest_key_entries": largest}


def phase_top_level(args) -> dict:
    """`assemble_manifest` from the index-file list and per-source figures only."""
    from polymix.core.config.mixture import MixtureConfig
    from polymix.pipelines.grouped_write import WrittenFile
    from polymix.pipelines.manifest_writer import RunFacts, assemble_manifest

    base = _rss_mb()
    rows = json.loads((Path(args.work) / "index.json").read_text())
    index = [WrittenFile(tuple(g), p, r, 0, b, s) for g, p, r, b, s in rows]
    facts = RunFacts(
        output=args.work + "/run",
        polymix_version="bench",
        config_hash="0" * 64,
        max_seq_len=2048,
        sources={s: ("text", 1.0) for s in SOURCES},
        tokenizer=None,
        tokenizer_bytes=None,
        minhash=None,
        warnings=(),
        mixture=MixtureConfig(),
    )
    counts = [((s, "kept", "", ""), 10**9) for s in SOURCES]
    counts += [((s, "input", "", ""), 10**9) for s in SOURCES]
    sums = [((s, "records", ""), 10**9) for s in SOURCES]
    manifest = assemble_manifest(facts, index, counts, sums, [])
    text = manifest.to_json()
    (Path(args.work) / "run" / "manifest.json").write_text(text)
    return {"peak_mb": _peak_mb() - base, "bytes": len(text.encode())}


def phase_read_stream(args) -> dict:
    from polymix.core.manifest import load_manifest

    base = _rss_mb()
    start = time.perf_counter()
    manifest = load_manifest(Path(args.work) / "run")
    shards = sum(1 for _ in manifest.shards())
    sides = sum(1 for _ in manifest.side_files())
    seconds = time.perf_counter() - start
    largest = max(f.bytes for f in manifest.index)
    return {
        "peak_mb": _peak_mb() - base,
        "entries": shards + sides,
        "entries_per_s": (shards + sides) / seconds,
        "largest_index_file_bytes": largest,
    }


def _open_source(args):
    from polymix.core.manifest import load_manifest
    from polymix.trainer.data.sources import ShardSource, source_refs

    manifest = load_manifest(Path(args.work) / "run")
    return ShardSource(manifest.root, source_refs(manifest, "web")[0])


def phase_read_source(args) -> dict:
    """One source as the loader opens it: its index read, a `ShardSource` built over it."""
    import polymix.trainer.data.sources  # noqa: F401 (grain's import is not the source's cost)

    base = _rss_mb()
    source = _open_source(args)
    return {"peak_mb": _peak_mb() - base, "shards": len(source.paths)}


def phase_source_held(args) -> dict:
    """What that `ShardSource` keeps once the index entries are dropped (Python heap)."""
    import gc
    import tracemalloc

    import polymix.trainer.data.sources  # noqa: F401

    tracemalloc.start()
    source = _open_source(args)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    return {"held_mb": held / 2**20, "shards": len(source.paths)}


def _v1_shards(n: int) -> Iterator:
    from polymix.core.manifest import ShardInfo

    for shard in written_shards(n):
        yield ShardInfo(
            path=shard.path,
            source=shard.group[0],
            modality="text",
            records=shard.records,
            tokens=shard.positions,
            bytes=shard.bytes,
            sha256=shard.sha256,
            positions=dict(shard.kinds),
        )


def phase_v1_build(args) -> dict:
    """Schema 1: every shard in the top level, assembled and serialised on one worker."""
    base = _rss_mb()
    shards = [s.model_dump(mode="json") for s in _v1_shards(args.shards)]
    top = {"schema_version": 1, "shards": shards, "side_outputs": []}
    top["side_outputs"] = [p.path for _, p in written_side_files(args.side_files)]
    text = json.dumps(top, indent=2, sort_keys=True) + "\n"
    (Path(args.work) / "v1.json").write_text(text)
    return {"peak_mb": _peak_mb() - base, "bytes": len(text.encode())}


def phase_v1_parse(args) -> dict:
    from polymix.core.manifest import ShardInfo

    base = _rss_mb()
    raw = json.loads((Path(args.work) / "v1.json").read_text())
    shards = [ShardInfo.model_validate(s) for s in raw["shards"]]
    return {"peak_mb": _peak_mb() - base, "shards": len(shards)}


PHASES = {
    "spool": phase_spool,
    "write_index": phase_write_index,
    "top_level": phase_top_level,
    "read_stream": phase_read_stream,
    "read_source": phase_read_source,
    "source_held": phase_source_held,
    "v1_build": phase_v1_build,
    "v1_parse": phase_v1_parse,
}


def run_phase(name: str, args) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--work", args.work]
    command += ["--shards", str(args.shards), "--side-files", str(args.side_files)]
    command += ["--target", str(args.target)]
    out = subprocess.run(command, capture_output=True, text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(line[len("RESULT ") :])


def _size(n: float) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _memory_row(label: str, new_mb: float, old_mb: float | None) -> tuple[str, str, str, str]:
    """RSS is counted in pages: below 1 MB a figure says only that, and its ratio a bound."""
    if old_mb is None:
        return label, (f"{new_mb:,.0f} MB" if new_mb >= 1 else "<1 MB"), "-", ""
    ratio = max(new_mb, 1.0) / old_mb
    shown = f"{ratio:.3f}x" if ratio >= 0.01 else f"1/{1 / ratio:,.0f}"
    if new_mb < 1:
        return label, "<1 MB", f"{old_mb:,.0f} MB", "<" + shown
    return label, f"{new_mb:,.0f} MB", f"{old_mb:,.0f} MB", shown


def _rows(r: dict) -> list[tuple[str, str, str, str]]:
    v1_size, size = r["v1_build"]["bytes"], r["top_level"]["bytes"]
    largest = r["read_stream"]["largest_index_file_bytes"]
    v1_build, v1_parse = r["v1_build"]["peak_mb"], r["v1_parse"]["peak_mb"]
    opened = f"peak: open one source ({r['read_source']['shards']:,} shards)"
    return [
        (
            "top level manifest.json",
            f"{size / 1e3:,.1f} kB",
            f"{v1_size / 1e6:,.1f} MB",
            f"1/{v1_size / size:,.0f}",
        ),
        ("largest index file (gzip)", f"{largest / 2**20:.2f} MiB", "-", ""),
        _memory_row("peak: write the index (per key)", r["write_index"]["peak_mb"], v1_build),
        _memory_row("peak: assemble the top level", r["top_level"]["peak_mb"], v1_build),
        _memory_row("peak: stream every entry", r["read_stream"]["peak_mb"], v1_parse),
        _memory_row(opened, r["read_source"]["peak_mb"], None),
        _memory_row("  held by the loader after", r["source_held"]["held_mb"], None),
    ]


def report(r: dict, args) -> None:
    entry_bytes = r["spool"]["entry_bytes"] / (args.shards + args.side_files)
    print(
        f"{args.shards:,} shard and {args.side_files:,} side-file entries, index target "
        f"{_size(args.target)}, ~{entry_bytes:.0f} bytes a line"
    )
    print(f"\n{'':40}{'schema 2':>12}{'schema 1':>12}{'ratio':>12}")
    for label, new, old, ratio in _rows(r):
        print(f"{label:40}{new:>12}{old:>12}{ratio:>12}")
    print(
        f"\nindex files: {r['write_index']['files']}, largest key "
        f"{r['write_index']['largest_key_entries']:,} entries; streamed "
        f"{r['read_stream']['entries_per_s']:,.0f} entries/s"
    )
    per_file = r["top_level"]["bytes"] / r["write_index"]["files"]
    files_at_pb = math.ceil((SHARDS_AT_PB + SIDE_FILES_AT_PB) * entry_bytes / args.target)
    held_per_shard = r["source_held"]["held_mb"] * 2**20 / r["source_held"]["shards"]
    opened_per_shard = r["read_source"]["peak_mb"] * 2**20 / r["read_source"]["shards"]
    print(
        f"\nat 1 PB ({SHARDS_AT_PB:.1e} shards, {SIDE_FILES_AT_PB:.1e} side files): "
        f"~{files_at_pb:,} index files, top level ~{files_at_pb * per_file / 1e6:.2f} MB "
        f"(schema 1: ~{r['v1_build']['bytes'] / args.shards * SHARDS_AT_PB / 1e9:.1f} GB without "
        f"side files); a writer key holds <= {_size(args.target)} of lines; a reader "
        f"streams one index file; a loader holding every shard keeps "
        f"~{held_per_shard * SHARDS_AT_PB / 2**30:.1f} GB ({held_per_shard:.0f} B a shard), "
        f"peaking at ~{opened_per_shard:.0f} B a shard of the source it is opening"
    )


def main(argv: list[str] | None = None) -> int:
    from polymix.pipelines.manifest_writer import INDEX_TARGET_BYTES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10**6)
    parser.add_argument("--side-files", type=int, default=200_000)
    parser.add_argument("--target", type=int, default=INDEX_TARGET_BYTES)
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--work")
    args = parser.parse_args(argv)
    if args.phase:
        print("RESULT " + json.dumps(PHASES[args.phase](args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="polymix-manifest-scale-") as work:
        args.work = work
        results = {}
        for name in PHASES:
            start = time.perf_counter()
            results[name] = run_phase(name, args)
            print(f"{name}: {time.perf_counter() - start:.1f}s {results[name]}", flush=True)
        report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
