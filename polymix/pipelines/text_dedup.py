"""Exact then near dedup of text, decided on ids, with one join of each document.

    examples ─► Sign (batched): node, content hash, LSH band keys; shingle sets or
                signatures (sketches); the example keyed by node for the join
    (hash, node, band keys) ─► ExactGroups ─► exact duplicates (node, kept)
                                          └► one survivor per hash, with its band keys
    survivors + sketches ─► NearClusters ─► near duplicates (node, kept, similarity),
                                            cluster sizes
    examples ⋈ decisions by node ─► kept Example | Duplicate

Each document crosses one shuffle of these stages, the last join, on its way to the
next stage; everything before it moves ids, hashes, band keys and sketches. Near dedup
sees each distinct text once: an exact copy is named a duplicate of the survivor of its
hash (as when exact dedup ran alone), and that survivor may itself be a near duplicate.

Measured (`benchmarks/minhash.py dedup`, 20k pages of 2.2 KB, 30% duplicates): all dedup
shuffles move 5,494 B per document, 2.50x the document; the final join is 2,228 B of it.
The previous layout, measured the same way, moved 6,294 B (2.86x), its exact group and
its near-dedup joins carrying each removed document up to three times.
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.config.text import ExactDedupConfig
from polymix.pipelines import exact_dedup, near_dedup
from polymix.pipelines.dedup_join import DUPLICATES, JoinDecisions, as_decision, as_item
from polymix.transforms.example import Duplicate, Example
from polymix.transforms.hashing import content_hash
from polymix.transforms.lsh import band_keys, node_id, node_key
from polymix.transforms.minhash import MinHasher

_SKETCHES, _ITEMS = "sketches", "items"
_EXACT, _NEAR, _SIZE = "exact", "near", "size"

_DOCUMENTS = Metrics.counter(near_dedup.STAGE, "documents")
_NO_SHINGLES = Metrics.counter(near_dedup.STAGE, "no_shingles")
_KEPT = Metrics.counter(near_dedup.STAGE, "kept")
_CLUSTERS = Metrics.counter(near_dedup.STAGE, "clusters")
_NEAR_DUPLICATES = Metrics.counter(near_dedup.STAGE, "duplicates")


class TextDuplicates(beam.PTransform):
    """`PCollection[Example]` → `{"kept": Example, "duplicates": Duplicate}`; either stage
    may be disabled. Node keys (id, source) must be unique."""

    def __init__(self, exact: ExactDedupConfig, near: NearDedupConfig) -> None:
        super().__init__()
        self.exact = exact
        self.near = near

    def expand(self, examples: beam.PCollection) -> dict[str, beam.PCollection]:
        if not (self.exact.enabled or self.near.enabled):
            none = examples.pipeline | "NoDuplicates" >> beam.Create([])
            return {"kept": examples, "duplicates": none}
        signed = (
            examples
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.near.batch_size)
            | "Sign"
            >> beam.ParDo(_Sign(self.exact, self.near)).with_outputs(_SKETCHES, _ITEMS, main="keys")
        )
        decisions = []
        if self.exact.enabled:
            exact = signed.keys | "Exact" >> exact_dedup.ExactGroups(order=_source_then_id)
            survivors = exact["survivors"]
            decisions.append(exact["duplicates"] | "ExactDecision" >> beam.MapTuple(_exact))
        else:
            survivors = signed.keys  # already (node, band keys)
        if self.near.enabled:
            near = (survivors, signed[_SKETCHES]) | "Near" >> near_dedup.NearClusters(self.near)
            decisions.append(near["duplicates"] | "NearDecision" >> beam.MapTuple(_near))
            decisions.append(near["sizes"] | "SizeDecision" >> beam.MapTuple(_size))
        joined = (signed[_ITEMS], *decisions) | "Join" >> JoinDecisions(
            _decide, (self.near.enabled,), tagged=True
        )
        return {"kept": joined.kept, "duplicates": joined[DUPLICATES]}


def _source_then_id(node: str) -> tuple[str, str]:
    """Exact dedup keeps the smallest (source, id), as it always has."""
    doc_id = node_id(node)
    return node[len(doc_id) + 1 :], doc_id


def _exact(node: str, kept: str) -> tuple:
    return as_decision(node, (_EXACT, kept))


def _near(node: str, kept_and_similarity: tuple) -> tuple:
    kept, similarity = kept_and_similarity
    return as_decision(node, (_NEAR, kept, similarity))


def _size(node: str, size: int) -> tuple:
    return as_decision(node, (_SIZE, size))


def _decide(example: Example, decisions: list, near_enabled: bool) -> Iterator:
    by_kind = {decision[0]: decision for decision in decisions}
    if _EXACT in by_kind:
        kept = node_id(by_kind[_EXACT][1])
        yield beam.pvalue.TaggedOutput(DUPLICATES, Duplicate(example, exact_dedup.STAGE, kept))
    elif _NEAR in by_kind:
        _, kept, similarity = by_kind[_NEAR]
        _NEAR_DUPLICATES.inc()
        duplicate = Duplicate(example, near_dedup.STAGE, node_id(kept), similarity)
        yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)
    elif near_enabled:
        size = by_kind[_SIZE][1] if _SIZE in by_kind else 1
        _KEPT.inc()
        if size > 1:
            _CLUSTERS.inc()
        yield example.tagged(**{near_dedup.CLUSTER_SIZE_ATTRIBUTE: size})
    else:
        yield example


class _Sign(beam.DoFn):
    """A batch of examples → per example, each in the shape its next stage takes (no Map
    between): the keys of exact dedup `(hash, (node, band keys))`, or the near-dedup
    survivor `(node, band keys)` when exact dedup is off; `(node, sketch)`; and the
    example itself keyed for the final join."""

    def __init__(self, exact: ExactDedupConfig, near: NearDedupConfig) -> None:
        self.exact = exact
        self.near = near

    def setup(self) -> None:
        near = self.near
        self.hasher = MinHasher(
            num_perm=near.num_perm,
            seed=near.seed,
            ngram=near.ngram,
            hash_function=near.hash_function,
        )
        self.bands, self.rows = near.lsh_params()

    def process(self, batch: list[Example]) -> Iterator:
        texts = [e.text or "" for e in batch]
        hashes = offsets = signatures = None
        if self.near.enabled and self.near.verify:
            hashes, offsets = self.hasher.shingle_hashes(texts)
            signatures = self.hasher.signatures_from_hashes(hashes, offsets)
        elif self.near.enabled:
            signatures = self.hasher.signatures(texts)
        for i, example in enumerate(batch):
            node = node_key(example.source, example.id)
            yield beam.pvalue.TaggedOutput(_ITEMS, as_item(node, example))
            bands = None
            if signatures is not None:
                _DOCUMENTS.inc()
                if np.all(signatures[i] == 0xFFFFFFFF):  # no words: nothing to compare
                    _NO_SHINGLES.inc()
                else:
                    bands = self._bands(example, signatures[i])
                    sketch = self._sketch(signatures[i], hashes, offsets, i)
                    yield beam.pvalue.TaggedOutput(_SKETCHES, (node, sketch))
            if self.exact.enabled:
                yield self._digest(example), (node, bands)
            else:
                yield node, bands

    def _digest(self, example: Example) -> bytes:
        digest = bytes.fromhex(content_hash(example.text or ""))  # 32 bytes, not 64 hex
        return digest if self.exact.scope == "global" else example.source.encode() + b"/" + digest

    def _bands(self, example: Example, signature: np.ndarray) -> list[bytes]:
        prefix = example.source.encode() + b"\0" if self.near.scope == "source" else b""
        return band_keys(signature, self.bands, self.rows, prefix)

    def _sketch(self, signature, hashes, offsets, i: int) -> bytes:
        if hashes is None:
            return signature.astype(near_dedup.WIRE).tobytes()
        return np.unique(hashes[offsets[i] : offsets[i + 1]]).astype(near_dedup.WIRE).tobytes()
