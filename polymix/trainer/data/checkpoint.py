"""Loader state inside orbax checkpoints: grain's own handler, re-exported.

`Loader` is a grain `DatasetIterator`, so grain's `CheckpointHandler` writes its state
as one small JSON file per process (`process_<i>-of-<n>.json`) next to the model's
arrays, and orbax's `CheckpointManager` saves both atomically under one step. Usage::

    mngr = ocp.CheckpointManager(dir, item_handlers={"loader": LoaderCheckpointHandler()})
    mngr.save(step, args=ocp.args.Composite(loader=LoaderSave(loader), ...))
    mngr.restore(step, args=ocp.args.Composite(loader=LoaderRestore(loader), ...))
"""

from __future__ import annotations

from grain.checkpoint import CheckpointHandler as LoaderCheckpointHandler
from grain.checkpoint import CheckpointRestore as LoaderRestore
from grain.checkpoint import CheckpointSave as LoaderSave

__all__ = ["LoaderCheckpointHandler", "LoaderRestore", "LoaderSave"]
