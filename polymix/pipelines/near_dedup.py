"""Near-duplicate removal on Beam: MinHash LSH on ids, verified edges, clusters with a floor.

    survivors (node, band keys) ─► BucketPairs ─► candidate edges (smaller, larger)
    candidates + sketches ─GBK(node)─► each node's sketch to the smaller end of each of
        its edges, and a hub's sketch to its members' salts ─Meet─► verified edges
    verified edges ─► ConnectedComponents ─► (node, cluster)
    clusters + sketches + edges ─► ClusterFloor ─► (node, (kept, similarity)), (kept, size)

A sketch is a document's sorted shingle-hash set when `verify` is on (exact Jaccard) or
its MinHash signature when it is off (estimated Jaccard). Only ids, band keys, sketches
and edges cross these shuffles; documents meet their decision once, in
`text_dedup.TextDuplicates`.

A node's sketch goes (a) once into the by-node grouping, (b) along each distinct edge
that ends at it (at most bands x 16 of them: a bucket gives a star beyond 16 members,
and a node is in `bands` buckets), and (c) when it is the smaller end of edges, once per
salt its larger ends occupy (at most 4,096), however many edges it has. (b) is bounded
by construction, so repeats are dropped exactly and the verified edge count is the
number of distinct candidate pairs at or above the threshold.

Shuffle bytes per input document, measured on DirectRunner (`benchmarks/minhash.py
dedup`: 2.2 KB pages, 30% duplicates, 128 permutations, 9 x 13 bands): LSH buckets 284 B
into the combine + 337 B into the star meet; verification 7 B of hub salts, 1,321 B of
sketches by node, 314 B of sketches along edges; connected components 136 B over all
rounds; the floor 570 B (kept and members' sketches) + 45 B of pivot rounds. The same
shapes at 1 PB. Those bucket bytes are per band key (~69 B of the 621 B per band x 9):
the default 21 x 9 of 192 permutations sends ~1.45 KB per document there, and no key
holds more than before (a bucket of a 10^8-page cluster is still that cluster, answered
as a star on salted keys). For a 10^6-page cluster the largest list under any key is 306 entries
(a 722 KB stream of shingle sets at the meets; `minhash.py hot`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.pipelines.cluster_floor import ClusterFloor
from polymix.pipelines.connected_components import ConnectedComponents
from polymix.pipelines.lsh_buckets import BucketPairs
from polymix.pipelines.salted_join import Meet, WithSalts, hub_copies, member_copy
from polymix.transforms.minhash import estimated_jaccard, exact_jaccard

STAGE = "near_dedup"
CLUSTER_SIZE_ATTRIBUTE = "minhash_cluster_size"
WIRE = np.dtype("<u4")  # hashes and signatures cross workers as little-endian uint32 bytes
_SKETCH, _INCOMING, _HUB = 0, 1, 2
_MEMBERS, _CANDIDATES = "members", "candidates"

# Counters resolve their cell when incremented, so one module-level object per name is
# enough (and saves building one per bucket or per node).
_CANDIDATE_EDGES = Metrics.counter(STAGE, "candidate_edges")
_VERIFIED_EDGES = Metrics.counter(STAGE, "verified_edges")
_FALSE_POSITIVE_EDGES = Metrics.counter(STAGE, "false_positive_edges")


def set_similarity(a: bytes, b: bytes) -> float:
    """Exact Jaccard of two shingle-hash sets as they cross workers."""
    return exact_jaccard(np.frombuffer(a, WIRE), np.frombuffer(b, WIRE))


def signature_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard of two MinHash signatures as they cross workers."""
    return estimated_jaccard(np.frombuffer(a, WIRE), np.frombuffer(b, WIRE))


class NearClusters(beam.PTransform):
    """`(survivors (node, band keys), sketches (node, sketch))` →
    `{"duplicates": (node, (kept node, similarity)), "sizes": (kept node, size)}`."""

    def __init__(self, config: NearDedupConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, inputs: tuple) -> dict[str, beam.PCollection]:
        survivors, sketches = inputs
        config = self.config
        similarity = set_similarity if config.verify else signature_similarity
        candidates = survivors | "Buckets" >> BucketPairs(_candidate, explode=_band_members)
        verified = (candidates, sketches) | "Verify" >> VerifyCandidates(
            similarity, config.threshold
        )
        labels = (
            verified["edges"]
            | "EdgeEnds" >> beam.Map(lambda edge: edge[:2])
            | "Components" >> ConnectedComponents(config.max_rounds)
        )
        return {
            "labels": labels["labels"],
            "sketches": verified["sketches"],
            "edges": verified["edges"],
        } | "Floor" >> ClusterFloor(similarity, config.floor(), config.floor_rounds, STAGE)


def _band_members(survivor: tuple[str, list[bytes] | None]) -> Iterator[tuple]:
    node, band_keys = survivor
    for key in band_keys or ():
        yield key, (node, None)


def _candidate(a: str, _pa, b: str, _pb) -> Iterator[tuple[str, str]]:
    yield a, b


class VerifyCandidates(beam.PTransform):
    """Candidate edges → `{"edges": (a, b, similarity) >= threshold, "sketches": the
    sketches of nodes with a candidate edge}`."""

    def __init__(self, similarity, threshold: float) -> None:
        super().__init__()
        self.similarity = similarity
        self.threshold = threshold

    def expand(self, inputs: tuple) -> dict[str, beam.PCollection]:
        candidates, sketches = inputs
        hub_salts = (
            candidates
            | "ToSmaller" >> beam.MapTuple(lambda a, b: (a, (b, None)))
            | "HubSalts" >> beam.CombinePerKey(WithSalts(_Nothing()))
        )
        by_node = (
            sketches | "TagSketch" >> beam.MapTuple(lambda node, s: (node, (_SKETCH, s))),
            candidates | "TagIncoming" >> beam.MapTuple(lambda a, b: (b, (_INCOMING, a))),
            hub_salts | "TagHub" >> beam.MapTuple(lambda a, s: (a, (_HUB, s[1]))),
        ) | "ByNode" >> beam.Flatten()
        sent = (
            by_node
            | "GroupByNode" >> beam.GroupByKey()
            | "SendSketch"
            >> beam.FlatMapTuple(_send_sketch).with_outputs(_MEMBERS, _CANDIDATES, main="hubs")
        )
        edges = (sent.hubs, sent[_MEMBERS]) | "Compare" >> Meet(
            _compare, args=(self.similarity, self.threshold)
        )
        return {"edges": edges, "sketches": sent[_CANDIDATES]}


class _Nothing(beam.CombineFn):
    """Summarizes nothing: `WithSalts(_Nothing())` collects a group's salts alone."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, element):
        return None

    def merge_accumulators(self, accumulators):
        return None

    def extract_output(self, accumulator):
        return None


def _send_sketch(node: str, values: Iterable) -> Iterator:
    """A node's sketch to the smaller end of each distinct edge ending at it (a bounded
    number), and to its own salts when it is the smaller end of edges."""
    sketch, smaller, hub_salts = None, set(), None
    for tag, value in values:
        if tag == _SKETCH:
            sketch = value
        elif tag == _INCOMING:
            smaller.add(value)  # at most bands x ALL_PAIRS_MAX_BUCKET distinct ones
        else:
            hub_salts = value
    if sketch is None or not (smaller or hub_salts):
        return
    yield beam.pvalue.TaggedOutput(_CANDIDATES, (node, sketch))
    for other in sorted(smaller):
        _CANDIDATE_EDGES.inc()
        yield beam.pvalue.TaggedOutput(_MEMBERS, member_copy(other, node, sketch))
    if hub_salts is not None:
        yield from hub_copies(node, sketch, hub_salts)


def _compare(smaller: str, own: bytes, larger: str, sketch: bytes, similarity, threshold):
    score = similarity(sketch, own)
    if score >= threshold:
        _VERIFIED_EDGES.inc()
        yield smaller, larger, score
    else:
        _FALSE_POSITIVE_EDGES.inc()
