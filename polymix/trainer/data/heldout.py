"""Held-out batches: a fixed, deterministic set per source, read from its eval shards.

Evaluation must measure the same thing every time it runs, so the set is a pure function
of the manifest and the run's shapes: each source's eval shards in path order, their
records in file order (no shuffle, no seed, nothing shared with the training loader's
state), packed with the training packer (`pack_block`, the same first-fit into rows) and
cut into batches of `rows` rows. The same batches come back at every evaluation and on
every resume. Records are read a block (`read_block`) at a time, and reading stops at
the block that fills `batches` batches, so the rows are the first ones first-fit makes
of those blocks: the same rule the training packer applies to its blocks. A source whose
held-out records fill fewer rows gets its last batch topped up with padding rows, which
hold no loss tokens and so leave a token-weighted loss unchanged.

Memory: `batches * rows` packed rows per source (4 x 256 x 8192 positions ~ 8M positions,
tens of MB with media), whatever the size of the corpus or its eval split.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from polymix.core.manifest import Manifest
from polymix.model.batch import FIELDS
from polymix.trainer.data.layout import Layout, decode_parts
from polymix.trainer.data.packing import RowRef, assemble, pack_block
from polymix.trainer.data.sources import ShardRef, ShardSource


def eval_refs(manifest: Manifest, name: str) -> list[ShardRef]:
    """One source's held-out shards holding records, in path order."""
    refs = [
        ShardRef(s.path, s.records, s.bytes, s.sha256)
        for s in manifest.eval_shards(name)
        if s.records > 0
    ]
    return sorted(refs, key=lambda ref: ref.path)


def _packed_rows(
    source: ShardSource,
    name: str,
    *,
    layout: Layout,
    max_patches: int,
    max_frames: int,
    wanted: int,
    read_block: int,
) -> Iterator[RowRef]:
    """Rows packed block by block from the source's records in order, until `wanted`."""
    made = 0
    for start in range(0, len(source), read_block):
        indices = np.arange(start, min(start + read_block, len(source)), dtype=np.int64)
        parts = decode_parts(source.read(indices), layout, name)
        block = pack_block(
            parts,
            seq_len=layout.seq_len,
            max_patches=max_patches,
            max_frames=max_frames,
            marker_ids=tuple(layout.marker_ids.values()),
            patch_dim=layout.patch_dim,
            frame_dim=layout.frame_dim,
        )
        for r in range(len(block)):
            yield block[r]
            made += 1
            if made == wanted:
                return


def _padding_rows(like: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """`count` rows of pure padding (segment 0, no loss tokens) shaped like `like`'s rows."""
    return {k: np.zeros((count, *v.shape[1:]), dtype=v.dtype) for k, v in like.items()}


def heldout_batches(
    manifest: Manifest,
    name: str,
    *,
    layout: Layout,
    rows: int,
    batches: int,
    max_patches: int,
    max_frames: int,
    read_block: int = 256,
    verify: bool = True,
) -> list[dict[str, np.ndarray]]:
    """Up to `batches` global batches of `rows` rows from `name`'s eval shards ([] if none)."""
    refs = eval_refs(manifest, name)
    if not refs:
        return []
    source = ShardSource(manifest.root, refs, verify=verify)
    packed = list(
        _packed_rows(
            source,
            name,
            layout=layout,
            max_patches=max_patches,
            max_frames=max_frames,
            wanted=rows * batches,
            read_block=read_block,
        )
    )
    out = []
    for first in range(0, len(packed), rows):
        chunk = packed[first : first + rows]
        batch = assemble(chunk, max_patches=max_patches, max_frames=max_frames)
        if len(chunk) < rows:
            pad = _padding_rows(batch, rows - len(chunk))
            batch = {k: np.concatenate([batch[k], pad[k]]) for k in FIELDS}
        out.append(batch)
    return out
