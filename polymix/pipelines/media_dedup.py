"""Exact and perceptual dedup of decoded media, on ids and hashes, with one join per result.

    results ─► (content key, node, perceptual hash) ─► ExactGroups ─► exact duplicates
                                                                  └► survivors (node, hash)
    survivors ─► band keys (the plan follows the number of hashes, a lifted count)
              ─► BucketPairs: every pair of a small bucket within max_distance, a star
                 from the smallest member of a big one ─► distinct verified edges
              ─► ConnectedComponents ─► ClusterFloor (Hamming floor) ─► perceptual duplicates
    results ⋈ decisions by node ─► kept | Duplicate

Only node keys, 8-byte hashes and edges are shuffled until the last join, where each
decoded result (with its records, the heavy part) meets its decision once. Buckets stay
near `bucket_size` members at any corpus size (`phash.band_plan`), so comparing within
a bucket costs ~bucket_size^2 / 2 distance checks, not members x representatives of a
1/64th of the corpus. A node is (id, source), so the transform can run on one source
(as `MediaSource` does) or on several of one modality flattened together (an image's
and a clip's hashes mean different things); a group keeps its smallest (id, source).
(id, source) must be unique.

Per key at 1 PB, for a hot picture copied 10^8 times: exact groups and big buckets are
lifted combines (one accumulator per bundle) and salted meets (~24,400 members per
key, streamed); a cluster's floor meet streams its members' 8-byte hashes the same way.

A signature is one hash (image) or up to `video_frames` / `audio_windows` (8) hashes
(a video's sampled frames, an audio clip's log-mel windows: `fingerprint`), so an
element emits at most 8 x bands bucket keys, and a 10^8-copy hot clip costs the same
per key as a hot picture: its buckets are the salted, streamed big buckets above.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.pipelines.cluster_floor import ClusterFloor
from polymix.pipelines.connected_components import ConnectedComponents
from polymix.pipelines.dedup_join import DUPLICATES, JoinDecisions
from polymix.pipelines.exact_dedup import ExactGroups
from polymix.pipelines.lsh_buckets import BucketPairs
from polymix.transforms.example import Duplicate
from polymix.transforms.lsh import node_id, node_key
from polymix.transforms.media.phash import (
    band_keys,
    band_plan,
    close_pairs,
    signature_distance,
    similarity,
)
from polymix.transforms.media.process import MediaResult

EXACT = "exact_dedup"
PHASH = "phash_dedup"
CLUSTER_SIZE_ATTRIBUTE = "phash_cluster_size"
_EXACT, _NEAR, _SIZE = "exact", "near", "size"


class MediaDuplicates(beam.PTransform):
    """`PCollection[MediaResult]` → `{"kept": MediaResult, "duplicates": Duplicate}`.

    `dedup` is a `PerceptualDedupConfig`; `exact` turns exact dedup on. Perceptual dedup
    runs on results that carry a signature (images, videos, audio clips).
    """

    def __init__(self, dedup: Any, exact: bool) -> None:
        super().__init__()
        self.dedup = dedup
        self.exact = exact

    def expand(self, results: beam.PCollection) -> dict[str, beam.PCollection]:
        keyed = results | "KeyByNode" >> beam.Map(lambda r: (_node(r), r))
        decisions = []
        if self.exact:
            groups = (
                results
                | "ByContent" >> beam.Map(lambda r: (r.content_key, (_node(r), r.signature)))
                | "Exact" >> ExactGroups(counters=EXACT)
            )
            survivors = groups["survivors"]
            decisions.append(groups["duplicates"] | "ExactDecision" >> beam.Map(_tag, _EXACT))
        else:
            survivors = results | "Signatures" >> beam.Map(lambda r: (_node(r), r.signature))
        if self.dedup.enabled:
            near = survivors | "Perceptual" >> _Perceptual(self.dedup)
            decisions.append(near["duplicates"] | "NearDecision" >> beam.Map(_tag, _NEAR))
            decisions.append(near["sizes"] | "SizeDecision" >> beam.Map(_tag, _SIZE))
        joined = (keyed, *decisions) | "Join" >> JoinDecisions(_decide)
        return {"kept": joined.kept, "duplicates": joined[DUPLICATES]}


class _Perceptual(beam.PTransform):
    def __init__(self, dedup: Any) -> None:
        super().__init__()
        self.dedup = dedup

    def expand(self, survivors: beam.PCollection) -> dict[str, beam.PCollection]:
        dedup = self.dedup
        hash_bytes = dedup.hash_size**2 // 8
        signed = survivors | "Signed" >> beam.Filter(lambda item: bool(item[1]))
        n_hashes = (
            signed
            | "HashCount" >> beam.Map(lambda item: len(item[1]) // hash_bytes)
            | "Hashes" >> beam.CombineGlobally(sum)
        )
        edges = (
            signed
            | "Bands"
            >> beam.FlatMap(_bucket_keys, dedup, hash_bytes, beam.pvalue.AsSingleton(n_hashes))
            | "Buckets" >> BucketPairs(partial(_close, hash_bytes, dedup.max_distance))
            | "OneEdge" >> beam.Distinct()
        )
        labels = (
            edges
            | "EdgeEnds" >> beam.Map(lambda edge: edge[:2])
            | "Components" >> ConnectedComponents(dedup.max_rounds)
        )
        floor = similarity(dedup.floor_distance(), hash_bytes)
        return {
            "labels": labels["labels"],
            "sketches": signed,
            "edges": edges,
        } | "Floor" >> ClusterFloor(
            partial(_hash_similarity, hash_bytes), floor, dedup.floor_rounds, PHASH
        )


def _node(result: MediaResult) -> str:
    return node_key(result.example.source, result.example.id)


def _tag(element: tuple, kind: str) -> tuple:
    node, decision = element
    return node, (kind, decision)


def _bucket_keys(item: tuple[str, bytes], dedup: Any, hash_bytes: int, n_hashes: int) -> Iterator:
    node, signature = item
    plan = band_plan(
        n_hashes, hash_bytes * 8, dedup.max_distance, dedup.bucket_size, dedup.miss_rate
    )
    for key in band_keys(signature, hash_bytes, plan):
        yield key, (node, signature)


def _close(hash_bytes: int, max_distance: int, a: str, sa: bytes, b: str, sb: bytes) -> Iterator:
    counter = Metrics.counter(PHASH, "verified_edges")
    for x, y, distance in close_pairs([(a, sa), (b, sb)], hash_bytes, max_distance):
        counter.inc()
        yield x, y, similarity(distance, hash_bytes)


def _hash_similarity(hash_bytes: int, a: bytes, b: bytes) -> float:
    return similarity(signature_distance(a, b, hash_bytes), hash_bytes)


def _decide(result: MediaResult, decisions: list) -> Iterator:
    by_kind = dict(decisions)
    if _EXACT in by_kind:  # counted where decided (ExactGroups)
        duplicate = Duplicate(result.example, EXACT, node_id(by_kind[_EXACT]))
        yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)
    elif _NEAR in by_kind:
        kept, score = by_kind[_NEAR]
        Metrics.counter(PHASH, "duplicates").inc()
        duplicate = Duplicate(result.example, PHASH, node_id(kept), score)
        yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)
    elif result.signature:
        size = by_kind.get(_SIZE, 1)
        example = result.example.tagged(**{CLUSTER_SIZE_ATTRIBUTE: size})
        yield MediaResult(example, result.records, result.content_key, result.signature)
    else:
        yield result
