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
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from polymix.trainer.data.checkpoint import LoaderCheckpointHandler, LoaderRestore, LoaderSave


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


def abstract_like(shapes: Any, shardings: Any) -> Any:
    """ShapeDtypeStructs carrying the target shardings, for `Checkpoints.restore`."""
    return jax.tree.map(
        lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), shapes, shardings
    )
