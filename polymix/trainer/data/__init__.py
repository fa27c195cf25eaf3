"""The trainer's data loader: manifest -> deterministic, resumable packed batches (grain)."""

from polymix.trainer.data.checkpoint import LoaderCheckpointHandler, LoaderRestore, LoaderSave
from polymix.trainer.data.layout import Layout, RecordLayoutError
from polymix.trainer.data.loader import Loader, PackedDataset, make_dataset, make_loader
from polymix.trainer.data.packing import fill_rate

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
