"""`make_loader`: the manifest in, fixed-shape packed batches out, resumable to the record.

Pipeline (grain pieces unless marked *ours*)::

    per source: ArrayRecord source (manifest counts, checksum on first open*)
                -> SourceStream* (per-epoch Feistel shuffle, repeat; hosts take turns)
    mix by a MixtureSchedule* (grain's interleave formula, named, re-weightable)
    -> ReadBlocks* (vectorised select/shuffle, per-shard reads, decode + layout*)
    -> pack_block* (compiled first-fit into rows + model fields)
    -> to_iter_dataset (thread prefetch) -> mp_prefetch (worker processes)
    -> Unblock* (rows) -> batch (assemble*: fixed shapes)

Everything up to `mp_prefetch` is a pure function of the block index, so grain's
workers can split blocks among themselves and still hand them on in the same order:
batches are the same for any `worker_count`. The state is a handful of integers plus
the mixture schedule.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import grain
import numpy as np

from polymix.core.manifest import Manifest, ManifestError, load_manifest
from polymix.trainer.data.blocks import ReadBlocks, Unblock
from polymix.trainer.data.layout import Layout, decode_parts
from polymix.trainer.data.mixing import MixtureSchedule, record_weights
from polymix.trainer.data.packing import assemble, pack_block
from polymix.trainer.data.sources import SourceStream, source_refs, source_stream

# 2: the per-epoch shuffle became `sources.epoch_permutation` (grain's before); a
# version-1 state would resume into another record order, so it is refused.
STATE_VERSION = 2
# State entries that must match on resume; the mixture may change, nothing else.
_FIXED = (
    "seq_len",
    "global_batch_size",
    "seed",
    "process_index",
    "process_count",
    "worker_count",
    "read_block",
    "max_patches",
    "max_frames",
    "sources",
)


def _resolve(
    manifest: str | os.PathLike[str] | Manifest, root: str | os.PathLike[str] | None
) -> Manifest:
    """The top level, bound to the folder (or bucket prefix) its paths are under."""
    if isinstance(manifest, Manifest):
        if root is None:
            return manifest.bound_to(manifest.root)  # raises unless it was loaded from one
        return manifest.bound_to(os.fspath(root))
    loaded = load_manifest(manifest)
    return loaded if root is None else loaded.bound_to(os.fspath(root))


def planned_weights(manifest: Manifest, override: Mapping[str, float] | None) -> dict[str, float]:
    """Position shares per source: the override, else the manifest's plan, else the sources'
    configured weights, else each source's share of the tokens (the natural mixture)."""
    if override is not None:
        weights = dict(override)
    elif manifest.mixture:
        weights = dict(manifest.mixture)
    else:
        weights = {name: totals.weight for name, totals in manifest.sources.items()}
    with_records = {name for name, totals in manifest.sources.items() if totals.records > 0}
    if not any(w > 0 for w in weights.values()):
        weights = {name: manifest.sources[name].tokens for name in with_records}
    unknown = sorted(set(weights) - with_records)
    if unknown and any(weights[n] > 0 for n in unknown):
        raise ManifestError(f"mixture names sources with no shards: {unknown}")
    return {n: float(w) for n, w in weights.items() if w > 0 and n not in unknown}


def _markers(manifest: Manifest, override: Mapping[str, int] | None) -> Mapping[str, int] | None:
    if override is not None:
        return override
    tokenizer = manifest.tokenizer
    specials = getattr(tokenizer, "specials", None) if tokenizer is not None else None
    return dict(specials) if specials else None


def _open_sources(
    manifest: Manifest, **stream_args: Any
) -> tuple[list[str], dict[str, float], list[SourceStream]]:
    """(names, positions per record, streams) of the sources with records, one index at a time.

    Only the few fields a stream reads are kept of each index entry (`ShardRef`).
    """
    names, per_record, streams = [], {}, []
    for name in sorted(manifest.sources):
        refs, per_record[name] = source_refs(manifest, name)
        if refs:
            names.append(name)
            streams.append(source_stream(name, refs, root=manifest.root, **stream_args))
    return names, {n: per_record[n] for n in names}, streams


class PackedDataset(grain.IterDataset):
    """The whole pipeline as one grain `IterDataset` (use `make_loader` for the iterator)."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        layout: Layout,
        global_batch_size: int,
        seed: int,
        process_index: int,
        process_count: int,
        worker_count: int,
        weights: Mapping[str, float],
        max_patches: int,
        max_frames: int,
        read_block: int,
        read_threads: int,
        prefetch_blocks: int,
        verify_checksums: bool,
    ):
        super().__init__()
        if global_batch_size % process_count:
            raise ValueError(
                f"global_batch_size {global_batch_size} is not divisible by process_count {process_count}"
            )
        if not 0 <= process_index < process_count:
            raise ValueError(f"process_index {process_index} not in [0, {process_count})")
        if layout.seq_len < manifest.max_seq_len:
            raise ValueError(
                f"seq_len {layout.seq_len} is shorter than the manifest's max_seq_len "
                f"{manifest.max_seq_len}: records are cut to that length and never split here"
            )
        self.manifest, self.root, self.layout = manifest, manifest.root, layout
        self.rows = global_batch_size // process_count
        self.names, per_record, self._sources = _open_sources(
            manifest,
            seed=seed,
            process_index=0,  # every host reads all of a source: see `ReadBlocks`
            process_count=1,
            verify=verify_checksums,
        )
        self.record_weights = record_weights(weights, per_record)
        self.config = {
            "seq_len": layout.seq_len,
            "global_batch_size": global_batch_size,
            "seed": seed,
            "process_index": process_index,
            "process_count": process_count,
            "worker_count": worker_count,
            "read_block": read_block,
            "max_patches": max_patches,
            "max_frames": max_frames,
            "sources": self.names,
        }
        self._host, self._hosts = process_index, process_count
        self._read = grain.ReadOptions(
            num_threads=read_threads, prefetch_buffer_size=prefetch_blocks
        )
        self._workers = worker_count
        self._max_patches, self._max_frames = max_patches, max_frames
        self._block = read_block

    @property
    def max_patches(self) -> int:
        return self._max_patches

    @property
    def max_frames(self) -> int:
        return self._max_frames

    def initial_schedule(self) -> MixtureSchedule:
        return MixtureSchedule.start(self.names, self.record_weights)

    def build(self, schedule: MixtureSchedule) -> grain.DatasetIterator:
        decoders = [
            functools.partial(decode_parts, layout=self.layout, source=name) for name in self.names
        ]
        packer = functools.partial(
            _pack,
            seq_len=self.layout.seq_len,
            max_patches=self._max_patches,
            max_frames=self._max_frames,
            marker_ids=tuple(self.layout.marker_ids.values()),
            patch_dim=self.layout.patch_dim,
            frame_dim=self.layout.frame_dim,
        )
        ds = (
            ReadBlocks(
                schedule, self._sources, decoders, self._block, host=self._host, hosts=self._hosts
            )
            .map(packer)
            .to_iter_dataset(self._read)
        )
        if self._workers > 0:
            _absl_flags_parsed()
            ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._workers))
        ds = Unblock(ds, self._block)
        assembler = functools.partial(
            assemble, max_patches=self._max_patches, max_frames=self._max_frames
        )
        ds = ds.batch(self.rows, drop_remainder=True, batch_fn=assembler)
        return ds.__iter__()

    def __iter__(self) -> Loader:
        return Loader(self)

    def __str__(self) -> str:
        return f"PackedDataset(sources={self.names}, rows={self.rows})"


def _pack(block: tuple[int, list], **kwargs: Any) -> tuple[int, list]:
    index, elements = block
    return index, pack_block(elements, **kwargs)


def _absl_flags_parsed() -> None:
    """grain's worker start reads absl flags; outside an absl app they are unparsed and it fails."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def _record_index(state: Any) -> int | None:
    """First mixed record of the first block not yet started (see `Unblock`)."""
    if isinstance(state, dict):
        if "fresh_record" in state:
            return int(state["fresh_record"])
        for value in state.values():
            found = _record_index(value)
            if found is not None:
                return found
    return None


class Loader(grain.DatasetIterator):
    """Iterator of model batches; `get_state`/`set_state` are JSON-able dicts.

    A grain `DatasetIterator`, so grain's orbax `CheckpointHandler` saves and restores it.
    """

    # So `close()` (also run by `__del__`) works even if building the pipeline failed.
    _closed = False
    _parents: tuple[grain.DatasetIterator, ...] = ()

    def __init__(self, dataset: PackedDataset):
        self._dataset = dataset
        self._schedule = dataset.initial_schedule()
        super().__init__(dataset.build(self._schedule))

    def __next__(self) -> dict[str, np.ndarray]:
        return next(self._parent)

    @property
    def dataset(self) -> PackedDataset:
        """What the batches are made of: held-out batches take their shapes from it."""
        return self._dataset

    @property
    def schedule(self) -> MixtureSchedule:
        return self._schedule

    def get_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "config": dict(self._dataset.config),
            "mixture": self._schedule.to_json(),
            "pipeline": self._parent.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"loader state version {state.get('version')!r} is not {STATE_VERSION}"
            )
        ours, theirs = self._dataset.config, state["config"]
        wrong = {k: (theirs.get(k), ours[k]) for k in _FIXED if theirs.get(k) != ours[k]}
        if wrong:
            raise ValueError(f"loader state was saved with other settings (saved, now): {wrong}")
        schedule = MixtureSchedule.from_json(self._dataset.names, state["mixture"])
        index = _record_index(state["pipeline"])
        if index is None:
            raise ValueError("loader state has no record index")
        schedule = schedule.reweighted(index, self._dataset.record_weights)
        if schedule.to_json() != self._schedule.to_json():
            self._parent.close()
            self._parents = (self._dataset.build(schedule),)
            self._schedule = schedule
        self._parent.set_state(state["pipeline"])

    def __str__(self) -> str:
        return f"Loader({self._dataset})"


def make_loader(
    manifest: str | os.PathLike[str] | Manifest,
    *,
    seq_len: int,
    global_batch_size: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
    worker_count: int = 0,
    root: str | os.PathLike[str] | None = None,
    mixture: Mapping[str, float] | None = None,
    max_patches: int | None = None,
    max_frames: int | None = None,
    patch_dim: int = 16 * 16 * 3,
    n_mels: int = 128,
    audio_stack: int = 4,
    markers: Mapping[str, int] | None = None,
    read_block: int = 256,
    read_threads: int = 4,
    prefetch_blocks: int = 4,
    verify_checksums: bool = True,
) -> Loader:
    """This process's share of each global batch, as `model.batch` arrays of fixed shapes.

    `mixture` overrides the manifest's planned position shares (and may differ on resume:
    each source carries on from where it stopped). `max_patches` / `max_frames` are the
    per-row media capacities; they default to `seq_len` when any source has that media
    (never too small), else 1. `markers` overrides the manifest tokenizer's `specials`.
    """
    return make_dataset(
        manifest,
        seq_len=seq_len,
        global_batch_size=global_batch_size,
        seed=seed,
        process_index=process_index,
        process_count=process_count,
        worker_count=worker_count,
        root=root,
        mixture=mixture,
        max_patches=max_patches,
        max_frames=max_frames,
        patch_dim=patch_dim,
        n_mels=n_mels,
        audio_stack=audio_stack,
        markers=markers,
        read_block=read_block,
        read_threads=read_threads,
        prefetch_blocks=prefetch_blocks,
        verify_checksums=verify_checksums,
    ).__iter__()


def make_dataset(
    manifest: str | os.PathLike[str] | Manifest,
    *,
    seq_len: int,
    global_batch_size: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
    worker_count: int = 0,
    root: str | os.PathLike[str] | None = None,
    mixture: Mapping[str, float] | None = None,
    max_patches: int | None = None,
    max_frames: int | None = None,
    patch_dim: int = 16 * 16 * 3,
    n_mels: int = 128,
    audio_stack: int = 4,
    markers: Mapping[str, int] | None = None,
    read_block: int = 256,
    read_threads: int = 4,
    prefetch_blocks: int = 4,
    verify_checksums: bool = True,
) -> PackedDataset:
    """Same arguments as `make_loader`; the grain `IterDataset` (for grain's own tooling)."""
    loaded = _resolve(manifest, root)
    weights = planned_weights(loaded, mixture)
    # From every source, not just the weighted ones: shapes must not change with the mixture.
    modalities = {t.modality for t in loaded.sources.values() if t.records > 0}
    layout = Layout(
        seq_len=seq_len,
        patch_dim=patch_dim,
        n_mels=n_mels,
        audio_stack=audio_stack,
        markers=_markers(loaded, markers),
    )
    has_images = bool(modalities & {"image", "video"})
    has_audio = bool(modalities & {"audio", "video"})
    return PackedDataset(
        loaded,
        layout=layout,
        global_batch_size=global_batch_size,
        seed=seed,
        process_index=process_index,
        process_count=process_count,
        worker_count=worker_count,
        weights=weights,
        max_patches=max_patches or (seq_len if has_images else 1),
        max_frames=max_frames or (seq_len if has_audio else 1),
        read_block=read_block,
        read_threads=read_threads,
        prefetch_blocks=prefetch_blocks,
        verify_checksums=verify_checksums,
    )
