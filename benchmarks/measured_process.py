"""A command run as a measured process tree: CPU of it and all it starts, peak RSS each.

`polymix run` and its peers run this way in `whole_pipeline.py` and its profile, so
each side pays for its own start-up and every process it forks.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


class PeakMemory:
    """Peak RSS and CPU of every process in a tree, polled from /proc while it runs."""

    def __init__(self, root_pid: int) -> None:
        self.root, self.peaks, self.names, self.cpu = root_pid, {}, {}, {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    def _poll(self) -> None:
        while not self._done.wait(0.05):
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.cpu[pid] = (int(stat[11]) + int(stat[12])) / _TICK
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        self.peaks[pid] = max(self.peaks.get(pid, 0), kib)
                        self.names[pid] = cmd.decode(errors="replace")[:120]

    def stop(self) -> dict[int, float]:
        self._done.set()
        self._thread.join()
        return {pid: kib / 1024 for pid, kib in self.peaks.items()}


def measured(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run `command`; its CPU-seconds (all descendants), wall time and peak RSS per process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    memory = PeakMemory(proc.pid)
    output = proc.communicate()[0]
    wall = time.perf_counter() - start
    peaks = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{command[:4]} failed:\n{output[-3000:]}")
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Killed DirectRunner workers may never be reaped: then only the poll saw their CPU.
    cpu = max(reaped, sum(memory.cpu.values()))
    processes = sorted(peaks.items(), key=lambda kv: -kv[1])
    return {
        "cpu": cpu,
        "wall": wall,
        "peaks": [(memory.names.get(pid, "?"), mib) for pid, mib in processes],
        "output": output,
    }


def run_polymix(
    config: Path, output: Path, workers: int, tree: Path = ROOT, env: dict | None = None
) -> dict:
    """`polymix run` from `tree` (its workers import polymix from there too)."""
    flags = [f"--direct_num_workers={workers}"]
    if workers > 1:
        flags.append("--direct_running_mode=multi_processing")
    command = [sys.executable, "-m", "polymix.cli", "run", str(config), "--output", str(output)]
    env = dict(env or os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree), env.get("PYTHONPATH")) if p)
    return measured(command + flags, env, cwd=tree)
