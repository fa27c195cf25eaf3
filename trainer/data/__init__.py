"""The trainer's data loader: manifest -> deterministic, resumable packed batches (grain)."""

from trainer.data.checkpoint import LoaderCheckpointHandler, LoaderRestore, LoaderSave
from trainer.data.layout import Layout, RecordLayoutError
from trainer.data.loader import Loader, PackedDataset, make_dataset, make_loader
from trainer.data.packing import fill_rate

__all__ = [
    "Layout",
    "Loader",
    "LoaderCheckpointHandler",
    "LoaderRestore",
    "LoaderSave",
    "PackedDataset",
    "RecordLayoutError",
    "fill_rate",
    "make_dataset",
    "make_loader",
]
