"""Near-duplicate removal on Beam: MinHash LSH, verified candidates, distributed clusters.

    examples ─► signatures (batched) ─► (bucket, node) ─GBK─► candidate edges
             └► shingle sets ─CoGBK(node)─► GBK(larger end) ─► verified edges (if `verify`)
    edges ─► ConnectedComponents (large-star/small-star) ─► (node, root), (root, size)
    examples ⋈ components by node ─► kept (singletons, roots) | members ─GBK(root)─► Duplicate

Every step is keyed by a bucket or a node; no step sees all signatures, all pairs or
all clusters. Shuffle bytes per input document, measured by `benchmarks/minhash.py`
(defaults: 128 permutations, 9 bands x 13 rows; ~2 KB documents, ~6% of them in
clusters): buckets ~306 B (9 x (10-byte key + node)); shingle sets ~1.3 KB once when
verifying, plus ~2.7 KB per candidate edge; components ~8 B per round; the final join
carries the example itself (~2.1 KB); cluster members go once more to their root with
a 512-byte signature (~0.3 KB averaged over all documents).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.pipelines.connected_components import ConnectedComponents
from polymix.transforms.example import Duplicate, Example
from polymix.transforms.lsh import band_keys, bucket_edges, node_key
from polymix.transforms.minhash import MinHasher, estimated_jaccard, exact_jaccard
from polymix.transforms.star_cc import distinct_bounded

STAGE = "near_dedup"
CLUSTER_SIZE_ATTRIBUTE = "minhash_cluster_size"
_SETS = "sets"
_KEPT = "kept"
_TO_ROOT = "to_root"
_WIRE = np.dtype("<u4")  # hashes and signatures cross workers as little-endian uint32 bytes


# Counters resolve their cell when incremented, so one module-level object per name is
# enough (and saves building one per bucket or per node).
_DOCUMENTS = Metrics.counter(STAGE, "documents")
_NO_SHINGLES = Metrics.counter(STAGE, "no_shingles")
_CANDIDATE_EDGES = Metrics.counter(STAGE, "candidate_edges")
_VERIFIED_EDGES = Metrics.counter(STAGE, "verified_edges")
_FALSE_POSITIVE_EDGES = Metrics.counter(STAGE, "false_positive_edges")
_KEPT_COUNT = Metrics.counter(STAGE, "kept")
_CLUSTERS = Metrics.counter(STAGE, "clusters")
_DUPLICATES = Metrics.counter(STAGE, "duplicates")


def _hasher(config: NearDedupConfig) -> MinHasher:
    return MinHasher(
        num_perm=config.num_perm,
        seed=config.seed,
        ngram=config.ngram,
        hash_function=config.hash_function,
    )


class NearDuplicates(beam.PTransform):
    """`PCollection[Example]` in; `{"kept": Example, "duplicates": Duplicate}` out.

    Each input comes out once. A cluster keeps its smallest id (ties on id broken by
    source); kept documents carry `minhash_cluster_size` (1 when unique). Documents
    with no words are kept and never compared. Node keys (id, source) must be unique.
    """

    def __init__(self, config: NearDedupConfig) -> None:
        super().__init__()
        self.config = config

    def scheme(self) -> dict[str, object]:
        """The manifest's `minhash` entry for this stage."""
        return self.config.scheme()

    def expand(self, examples: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self.config
        if not config.enabled:
            none = examples.pipeline | "NoDuplicates" >> beam.Create([])
            return {"kept": examples, "duplicates": none}
        bands, rows = config.lsh_params()
        keyed = examples | "KeyByNode" >> beam.Map(lambda e: (node_key(e.source, e.id), e))
        signed = (
            examples
            | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=config.batch_size)
            | "Sign" >> beam.ParDo(_Sign(config, bands, rows)).with_outputs(_SETS, main="buckets")
        )
        candidates = (
            signed.buckets
            | "GroupBuckets" >> beam.GroupByKey()
            | "BucketEdges" >> beam.FlatMapTuple(_bucket_edges)
        )
        edges = candidates
        if config.verify:
            edges = candidates | "Verify" >> _Verify(signed[_SETS], config.threshold)
        components = edges | "Components" >> ConnectedComponents(
            config.max_rounds, rounds_key="near_dedup.max_rounds"
        )
        routed = (
            {"example": keyed, "root": components["members"], "size": components["sizes"]}
            | "JoinComponents" >> beam.CoGroupByKey()
            | "Route" >> beam.ParDo(_Route(config)).with_outputs(_TO_ROOT, main=_KEPT)
        )
        duplicates = (
            routed[_TO_ROOT]
            | "GroupByRoot" >> beam.GroupByKey()
            | "NameKept" >> beam.FlatMapTuple(_duplicates_of_root)
        )
        return {"kept": routed[_KEPT], "duplicates": duplicates}


class _Sign(beam.DoFn):
    """A batch of examples -> one (bucket key, node) per band, and shingle sets to verify."""

    def __init__(self, config: NearDedupConfig, bands: int, rows: int) -> None:
        self.config = config
        self.bands = bands
        self.rows = rows

    def setup(self) -> None:
        self.hasher = _hasher(self.config)

    def process(self, batch: list[Example]) -> Iterator:
        texts = [e.text or "" for e in batch]
        if self.config.verify:
            hashes, offsets = self.hasher.shingle_hashes(texts)
            signatures = self.hasher.signatures_from_hashes(hashes, offsets)
        else:
            signatures = self.hasher.signatures(texts)
        for i, example in enumerate(batch):
            _DOCUMENTS.inc()
            if np.all(signatures[i] == 0xFFFFFFFF):  # no words: nothing to compare
                _NO_SHINGLES.inc()
                continue
            node = node_key(example.source, example.id)
            prefix = example.source.encode() + b"\0" if self.config.scope == "source" else b""
            for key in band_keys(signatures[i], self.bands, self.rows, prefix):
                yield key, node
            if self.config.verify:
                shingles = np.unique(hashes[offsets[i] : offsets[i + 1]])
                yield beam.pvalue.TaggedOutput(_SETS, (node, shingles.astype(_WIRE).tobytes()))


def _bucket_edges(_key: bytes, members: Iterable[str]) -> Iterator[tuple[str, str]]:
    for edge in bucket_edges(members):
        _CANDIDATE_EDGES.inc()
        yield edge


class _Verify(beam.PTransform):
    """Keep only candidate edges whose exact shingle-set Jaccard reaches the threshold.

    One join by node sends each smaller endpoint's shingle set along its edges and keeps
    a larger endpoint's own; a GroupByKey then meets them at the larger endpoint. Sets of
    documents without candidates go through the first shuffle only.
    """

    def __init__(self, sets: beam.PCollection, threshold: float) -> None:
        super().__init__()
        self.sets = sets
        self.threshold = threshold

    def expand(self, candidates: beam.PCollection) -> beam.PCollection:
        incoming = candidates | "MarkLarger" >> beam.MapTuple(lambda a, b: (b, None))
        return (
            {"set": self.sets, "edge": candidates, "incoming": incoming}
            | "JoinSets" >> beam.CoGroupByKey()
            | "SendSets" >> beam.FlatMapTuple(_send_sets)
            | "MeetAtLarger" >> beam.GroupByKey()
            | "Compare" >> beam.FlatMap(_compare, self.threshold)
        )


def _send_sets(
    node: str, grouped: dict[str, Iterable]
) -> Iterator[tuple[str, tuple[str | None, bytes]]]:
    """(other, (node, set)) along each distinct edge; (node, (None, set)) if it is a target."""
    is_target = any(True for _ in grouped["incoming"])
    shingles = next(iter(grouped["set"]), b"")  # a repeated node key has several: any will do
    for other in distinct_bounded(grouped["edge"]):
        yield other, (node, shingles)
    if is_target:
        yield node, (None, shingles)


def _compare(
    element: tuple[str, Iterable[tuple[str | None, bytes]]], threshold: float
) -> Iterator[tuple[str, str]]:
    node, entries = element
    own = np.frombuffer(next(s for other, s in entries if other is None), _WIRE)
    for other, shingles in entries:
        if other is None:
            continue
        if exact_jaccard(np.frombuffer(shingles, _WIRE), own) >= threshold:
            _VERIFIED_EDGES.inc()
            yield other, node
        else:
            _FALSE_POSITIVE_EDGES.inc()


class _Route(beam.DoFn):
    """Per node: unique -> kept; root -> kept and its signature to its members;
    member -> sent to its root with its signature, to be named a duplicate there."""

    def __init__(self, config: NearDedupConfig) -> None:
        self.config = config

    def setup(self) -> None:
        self.hasher = _hasher(self.config)

    def process(self, element: tuple[str, dict[str, Iterable]]) -> Iterator:
        node, grouped = element
        examples = list(grouped["example"])
        roots = list(grouped["root"])
        sizes = list(grouped["size"])
        if roots:
            (root,) = roots
            for example in examples:
                signature = self.hasher.signatures([example.text or ""])[0]
                yield beam.pvalue.TaggedOutput(
                    _TO_ROOT, (root, (False, example, signature.astype(_WIRE).tobytes()))
                )
            return
        size = sizes[0] if sizes else 1
        for example in examples:
            _KEPT_COUNT.inc()
            yield example.tagged(**{CLUSTER_SIZE_ATTRIBUTE: size})
            if sizes:
                _CLUSTERS.inc()
                signature = self.hasher.signatures([example.text or ""])[0]
                yield beam.pvalue.TaggedOutput(
                    _TO_ROOT, (node, (True, example.id, signature.astype(_WIRE).tobytes()))
                )


def _duplicates_of_root(root: str, entries: Iterable[tuple]) -> Iterator[Duplicate]:
    """Name the root as kept for each member; streams the group twice, holds none of it."""
    kept_id, kept_signature = next((e[1], e[2]) for e in entries if e[0])
    kept = np.frombuffer(kept_signature, _WIRE)
    for is_root, example, signature in entries:
        if is_root:
            continue
        _DUPLICATES.inc()
        similarity = estimated_jaccard(np.frombuffer(signature, _WIRE), kept)
        yield Duplicate(example=example, stage=STAGE, kept_id=kept_id, similarity=similarity)
