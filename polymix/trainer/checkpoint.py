"""Orbax checkpoints: train state, loader state and run metadata saved as one step.

One `CheckpointManager` step directory holds three items:

- `state`: params, optimizer state and counters (a PyTree; restored straight into
  each leaf's sharding, so no host holds the whole model);
- `loader`: the grain iterator's state (a few integers per process, JSON);
- `meta`: the `TrainConfig`, the manifest's checksum and the step, so `--resume`
  can refuse a run that would not continue the same way.

Orbax writes a step into a temporary directory and renames it into place when all
items are on disk, so a crash mid-save leaves the previous step as the latest. Saves
are synchronous: a SIGTERM handler must know the step is on disk before exiting.

A step can still be damaged after it was committed (a disk filling up, a copy cut
short, a file truncated by hand). `--resume` therefore checks the newest step before
trusting it: its small files must parse (`inspect`) and its arrays must restore. A
damaged step is moved aside to `<step>.damaged` (so it neither shadows the older steps
nor makes `max_to_keep` delete them) and the newest intact one is used, with a
warning; when no step is intact the run stops with one line naming the step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from polymix.core.errors import UserFacingError
from polymix.trainer.data.checkpoint import LoaderCheckpointHandler, LoaderRestore, LoaderSave

JSON_FILES = ("_CHECKPOINT_METADATA", "meta/metadata", "state/_METADATA")


class CheckpointDamaged(UserFacingError):
    """No intact checkpoint to resume from; the message names the step and what to remove."""


def manifest_fingerprint(path: str | Path) -> str:
    """sha256 of manifest.json: a resumed run must read the same data."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Checkpoints:
    """Thin wrapper: which items go together, how many to keep, where."""

    def __init__(self, directory: str | Path, keep: int):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(
            self.directory,
            item_handlers={
                "state": ocp.StandardCheckpointHandler(),
                "loader": LoaderCheckpointHandler(),
                "meta": ocp.JsonCheckpointHandler(),
            },
            options=options,
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state: Any, loader: Any, meta: dict[str, Any]) -> None:
        if step in self._manager.all_steps():
            return
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state),
                loader=LoaderSave(loader),
                meta=ocp.args.JsonSave(meta),
            ),
            force=True,
        )
        self._manager.wait_until_finished()

    def read_meta(self, step: int) -> dict[str, Any]:
        restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return dict(restored["meta"])

    def restore(self, step: int, abstract_state: Any, loader: Any) -> Any:
        """State into the shardings named by `abstract_state`; the loader in place."""
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                loader=LoaderRestore(loader),
            ),
        )
        return restored["state"]

    def close(self) -> None:
        self._manager.close()

    def step_path(self, step: int) -> Path:
        return self.directory / str(step)

    def inspect(self, step: int) -> str | None:
        """What is wrong with the step's small files (metadata, loader state, the arrays'
        metadata), or None. Reads no array data: `restore` is the test of that."""
        root = self.step_path(step)
        for name in JSON_FILES:
            problem = _json_problem(root, name)
            if problem:
                return problem
        meta = json.loads((root / "meta/metadata").read_text())
        if not isinstance(meta, dict) or "config" not in meta or meta.get("step") != step:
            return f"meta/metadata does not describe step {step}"
        problem = _loader_problem(root)
        if problem:
            return problem
        try:
            self._manager.item_metadata(step)
        except Exception as exc:  # the OCDBT manifest or an array's metadata is unreadable
            return f"state arrays' metadata unreadable: {_first_line(exc)}"
        return None

    def newest_intact(self, warn: Callable[[str], None], below: int | None = None) -> int | None:
        """The newest step (under `below`) `inspect` passes; None without steps. Damaged
        newer steps are moved aside, each with a warning; `CheckpointDamaged` if none is
        intact."""
        damaged: list[tuple[int, str]] = []
        steps = [s for s in self.all_steps() if below is None or s < below]
        for step in sorted(steps, reverse=True):
            problem = self.inspect(step)
            if problem is None:
                for bad, why in damaged:
                    self.set_aside(bad, why, step, warn)
                return step
            damaged.append((step, problem))
        if damaged:
            raise self._none_intact(damaged)
        return None

    def restore_newest(
        self,
        step: int,
        abstract_state: Any,
        loader: Any,
        check_meta: Callable[[dict[str, Any]], None],
        warn: Callable[[str], None],
    ) -> tuple[Any, int]:
        """(state, step) from `step`, or from the newest older intact step when its arrays
        do not restore; `check_meta` vets each fallback's metadata before it is used.
        Steps only go down, so each is tried once."""
        while True:
            try:
                return self.restore(step, abstract_state, loader), step
            except MemoryError:  # the machine's limit, not the files'
                raise
            except Exception as exc:
                problem = f"arrays do not restore: {_first_line(_root_cause(exc))}"
                older = [s for s in self.all_steps() if s < step]
                if not older:
                    raise self._none_intact([(step, problem)]) from None
                self.set_aside(step, problem, max(older), warn)
            fallback = self.newest_intact(warn, below=step)
            assert fallback is not None  # an older step existed; none intact raises
            step = fallback
            check_meta(self.read_meta(step))

    def set_aside(
        self, step: int, problem: str, fallback: int, warn: Callable[[str], None]
    ) -> None:
        """Move a damaged step to `<step>.damaged` (kept for inspection, out of orbax's view)."""
        import jax

        source = self.step_path(step)
        target = source.with_name(f"{step}.damaged")
        copies = 1
        while target.exists():
            copies += 1
            target = source.with_name(f"{step}.damaged-{copies}")
        if jax.process_index() == 0:
            source.rename(target)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"polymix-set-aside-{step}")
        self._manager.reload()
        warn(
            f"warning: checkpoint step {step} in {self.directory} is damaged ({problem}); "
            f"moved it to {target.name} and resuming from step {fallback}"
        )

    def _none_intact(self, damaged: list[tuple[int, str]]) -> CheckpointDamaged:
        step, problem = damaged[0]
        others = ", ".join(str(s) for s, _ in damaged[1:])
        also = f" (older steps {others} are damaged too)" if others else ""
        paths = " ".join(str(self.step_path(s)) for s, _ in damaged)
        return CheckpointDamaged(
            f"checkpoint step {step} in {self.directory} is damaged ({problem}){also} and no "
            f"intact step is left to resume from; remove {paths} to start over, or put back "
            "an intact copy"
        )


def _json_problem(root: Path, name: str) -> str | None:
    try:
        json.loads((root / name).read_text())
    except FileNotFoundError:
        return f"{name} is missing"
    except (ValueError, OSError) as exc:
        return f"{name} is not valid JSON: {_first_line(exc)}"
    return None


def _loader_problem(root: Path) -> str | None:
    """Every process's loader file is there (`process_<i>-of-<n>.json`) and parses."""
    files = sorted((root / "loader").glob("process_*-of-*.json"))
    if not files:
        return "loader state is missing"
    try:
        count = int(files[0].stem.rsplit("-of-", 1)[1])
    except ValueError:
        return f"loader state {files[0].name} does not name a process count"
    expected = {f"process_{i}-of-{count}.json" for i in range(count)}
    missing = sorted(expected - {f.name for f in files})
    if missing:
        return f"loader state {missing[0]} is missing"
    for path in files:
        problem = _json_problem(root, f"loader/{path.name}")
        if problem:
            return problem
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost cause: TensorStore's own message (which file, which byte range)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def abstract_like(shapes: Any, shardings: Any) -> Any:
    """ShapeDtypeStructs carrying the target shardings, for `Checkpoints.restore`."""
    return jax.tree.map(
        lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shapes, shardings
    )
