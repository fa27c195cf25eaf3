"""A wall-clock stack sampler for this process and every Python process it starts.

py-spy is not in the environment, and DirectRunner's workers are separate processes, so
this samples from inside: `enable(folder)` puts a `sitecustomize` on `PYTHONPATH` that
starts a daemon thread in every Python process started afterwards (the run, its
DirectRunner workers). Every 10 ms the thread reads each other Python thread's CPU
time (/proc/self/task/<tid>/stat) and stack, and adds the CPU that thread spent since
the last look to one key, found from the leaf up: the first frame in polymix's own
code (`polymix.pipelines.text_dedup._Sign.process`, with the libraries it calls), or
`beam` when a Beam frame comes first (the runner, its coders, its metrics, even when
polymix code called it), or `other` (threads outside both). Sleeping threads spend no
CPU, so they add nothing. The counts and the process's own CPU total are rewritten as
`<pid>.json` every second, so a worker that is killed still leaves them.

`summary(folder)` adds the files up; `stage_of` maps a key to the pipeline stage it
belongs to.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
from pathlib import Path

_SITE = """
import os
if os.environ.get("POLYMIX_SAMPLE_DIR"):
    import sys
    sys.path.insert(0, {bench!r})
    import stack_sampler
    stack_sampler.start(os.environ["POLYMIX_SAMPLE_DIR"])
"""
_TICK = os.sysconf("SC_CLK_TCK")


def enable(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` for a child whose Python processes all sample into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITE.format(bench=str(Path(__file__).parent)))
    paths = [str(site), env.get("PYTHONPATH", "")]
    return {**env, "POLYMIX_SAMPLE_DIR": str(folder), "PYTHONPATH": os.pathsep.join(paths)}


def _key(frame) -> str:
    """From the leaf up, the first frame that is polymix's or Beam's decides."""
    while frame is not None:
        path = frame.f_code.co_filename
        if "apache_beam" in path:
            return "beam"
        if "/polymix/" in path and "/site-packages/" not in path:
            module = path.split("/polymix/", 1)[1].removesuffix(".py").replace("/", ".")
            return f"polymix.{module}.{frame.f_code.co_qualname}"
        frame = frame.f_back
    return "other"


def _thread_ticks(native_id: int) -> int:
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def start(folder: str, interval: float = 0.01) -> None:
    """Sample this process into `folder/<pid>.json` until it exits."""
    counts: collections.Counter[str] = collections.Counter()
    out = Path(folder) / f"{os.getpid()}.json"
    argv = " ".join(sys.argv)[:200]

    seen: dict[int, int] = {}

    def loop() -> None:
        me = threading.get_ident()  # the sampler's own thread
        last = time.monotonic()
        while True:
            time.sleep(interval)
            frames = sys._current_frames()
            for thread in threading.enumerate():
                frame = frames.get(thread.ident)
                if thread.ident == me or frame is None or thread.native_id is None:
                    continue
                ticks = _thread_ticks(thread.native_id)
                spent = ticks - seen.get(thread.native_id, ticks)
                seen[thread.native_id] = ticks
                if spent > 0:
                    counts[_key(frame)] += spent
            if time.monotonic() - last > 1.0:
                last = time.monotonic()
                times = os.times()
                record = {"argv": argv, "cpu": times.user + times.system, "counts": counts}
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps(record))
                tmp.replace(out)

    threading.Thread(target=loop, daemon=True, name="stack-sampler").start()


def summary(folder: Path) -> list[dict]:
    """Per process: its argv, CPU-seconds in all and CPU-seconds per key."""
    result = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        seconds = {k: n / _TICK for k, n in data["counts"].items()}
        result.append({"pid": path.stem, "argv": data["argv"], "cpu": data["cpu"], "keys": seconds})
    return result


STAGES = (
    ("pipelines.read", "read"),
    ("transforms.read", "read"),
    ("transforms.text_stream", "read"),
    ("transforms.decompress", "read"),
    ("pipelines.normalize", "normalize"),
    ("transforms.normalize", "normalize"),
    ("pipelines.text_dedup", "dedup: sign (MinHash)"),
    ("transforms.minhash", "dedup: sign (MinHash)"),
    ("transforms.lsh", "dedup: sign (MinHash)"),
    ("pipelines.exact_dedup", "dedup: decide on ids"),
    ("pipelines.near_dedup", "dedup: decide on ids"),
    ("pipelines.lsh_buckets", "dedup: decide on ids"),
    ("pipelines.salted_join", "dedup: decide on ids"),
    ("pipelines.connected_components", "dedup: decide on ids"),
    ("transforms.star_cc", "dedup: decide on ids"),
    ("pipelines.cluster_floor", "dedup: decide on ids"),
    ("transforms.cluster_floor", "dedup: decide on ids"),
    ("pipelines.dedup_join", "dedup: join documents"),
    ("pipelines.quality", "quality filters"),
    ("transforms.filters", "quality filters"),
    ("pipelines.tokenize", "tokenize"),
    ("transforms.sentencepiece", "tokenize"),
    ("core.record_codec", "tokenize"),
    ("core.record_layout", "tokenize"),
    ("pipelines.element_coders", "element coders"),
    ("pipelines.value_codec", "element coders"),
    ("pipelines.grouped_write", "write shards and side files"),
    ("pipelines.side_items", "write shards and side files"),
    ("pipelines.held_out", "write shards and side files"),
    ("pipelines.file_io", "write shards and side files"),
    ("pipelines.accounting", "counts, statistics, manifest, report"),
    ("pipelines.statistics", "counts, statistics, manifest, report"),
    ("pipelines.domains", "counts, statistics, manifest, report"),
    ("pipelines.manifest_writer", "counts, statistics, manifest, report"),
    ("report", "counts, statistics, manifest, report"),
)


def stage_of(key: str) -> str:
    """The pipeline stage a sampled key belongs to (or the key's own class)."""
    if not key.startswith("polymix."):
        return {"beam": "Beam runner (bundles, coders, shuffles)"}.get(key, key)
    rest = key.removeprefix("polymix.")
    for prefix, stage in STAGES:
        if rest.startswith(prefix):
            return stage
    return "polymix: launch, config, other"
