"""Exact and perceptual dedup of decoded media, on small keys, with no single-worker step.

    results ─► (content key, (node, signature)) ─GBK─► exact duplicates (node, kept)
                                                 └──► survivors (node, signature)
    survivors ─► (band key, (node, signature)) ─GBK─► verified edges (rep, member)
              ─► ConnectedComponents ─► (node, root), (root, size)
              ─► two joins by node, then by root, to price each member's similarity
    results ⋈ decisions by node ─► kept | Duplicate

Only node keys, 8-byte hashes and edges are shuffled until the last join, where each
decoded result meets its decision once. A node is (id, source), so the transform can
run on one source (as `MediaSource` does) or on several flattened together for
cross-source dedup; a group keeps its smallest (id, source), so the choice does not
depend on arrival order or worker count. (id, source) must be unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.pipelines.connected_components import ConnectedComponents
from polymix.transforms.example import Duplicate
from polymix.transforms.lsh import node_id, node_key
from polymix.transforms.media.phash import band_keys, bucket_edges, signature_distance, similarity
from polymix.transforms.media.process import MediaResult

EXACT = "exact_dedup"
PHASH = "phash_dedup"
CLUSTER_SIZE_ATTRIBUTE = "phash_cluster_size"
_DUPLICATE = "duplicate"


class MediaDuplicates(beam.PTransform):
    """`PCollection[MediaResult]` → `{"kept": MediaResult, "duplicates": Duplicate}`.

    `dedup` is a `PerceptualDedupConfig`; `exact` turns exact dedup on. Perceptual dedup
    runs on results that carry a signature (images, videos).
    """

    def __init__(self, dedup: Any, exact: bool) -> None:
        super().__init__()
        self.dedup = dedup
        self.exact = exact

    def expand(self, results: beam.PCollection) -> dict[str, beam.PCollection]:
        keyed = results | "KeyByNode" >> beam.Map(lambda r: (_node(r), r))
        if self.exact:
            exact = (
                results
                | "ByContent" >> beam.Map(lambda r: (r.content_key, (_node(r), r.signature)))
                | "GroupContent" >> beam.GroupByKey()
                | "KeepSmallest"
                >> beam.FlatMapTuple(_split_exact).with_outputs(_DUPLICATE, main="survivors")
            )
            survivors, exact_dups = exact.survivors, exact[_DUPLICATE]
        else:
            survivors = results | "Signatures" >> beam.Map(lambda r: (_node(r), r.signature))
            exact_dups = results.pipeline | "NoExact" >> beam.Create([])
        joins: dict[str, beam.PCollection] = {"result": keyed, "exact": exact_dups}
        if self.dedup.enabled:
            near, sizes = self._perceptual(survivors)
            joins["near"] = near
            joins["size"] = sizes
        routed = (
            joins
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "Route" >> beam.FlatMapTuple(_route).with_outputs(_DUPLICATE, main="kept")
        )
        return {"kept": routed.kept, "duplicates": routed[_DUPLICATE]}

    def _perceptual(self, survivors: beam.PCollection):
        hash_bytes = self.dedup.hash_size**2 // 8
        bands = self.dedup.band_count()
        max_distance = self.dedup.max_distance
        signed = survivors | "Signed" >> beam.Filter(lambda item: bool(item[1]))
        edges = (
            signed
            | "Bands" >> beam.FlatMap(_bucket_keys, hash_bytes, bands)
            | "GroupBuckets" >> beam.GroupByKey()
            | "Verify" >> beam.FlatMap(_verified_edges, hash_bytes, max_distance)
            | "OneEdge" >> beam.Distinct()
        )
        components = edges | "Components" >> ConnectedComponents(
            self.dedup.max_rounds, rounds_key="media.perceptual_dedup.max_rounds"
        )
        # price each member against its root: member's signature → root, then compare
        to_root = (
            {"signature": signed, "root": components["members"]}
            | "JoinMemberSignature" >> beam.CoGroupByKey()
            | "SendToRoot" >> beam.FlatMapTuple(_send_to_root)
        )
        near = (
            {"signature": signed, "member": to_root}
            | "JoinRootSignature" >> beam.CoGroupByKey()
            | "Similarity" >> beam.FlatMap(_similarities, hash_bytes)
        )
        return near, components["sizes"]


def _node(result: MediaResult) -> str:
    return node_key(result.example.source, result.example.id)


def _split_exact(_key: str, members: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, Any]]:
    """Streams the group twice (minimum, then labels); holds none of it."""
    kept = min(node for node, _ in members)
    emitted = False
    for node, signature in members:
        if node == kept and not emitted:
            emitted = True
            yield node, signature
        else:
            yield beam.pvalue.TaggedOutput(_DUPLICATE, (node, kept))


def _bucket_keys(item: tuple[str, bytes], hash_bytes: int, bands: int):
    node, signature = item
    for key in band_keys(signature, hash_bytes, bands):
        yield key, (node, signature)


def _verified_edges(bucket: tuple[bytes, Iterable], hash_bytes: int, max_distance: int):
    _, members = bucket
    counter = Metrics.counter(PHASH, "verified_edges")
    for rep, member, _distance in bucket_edges(members, hash_bytes, max_distance):
        counter.inc()
        yield (rep, member) if rep < member else (member, rep)


def _send_to_root(node: str, grouped: dict[str, Iterable]):
    roots = list(grouped["root"])
    if not roots:
        return
    (signature,) = grouped["signature"]
    yield roots[0], (node, signature)


def _similarities(element: tuple[str, dict[str, Iterable]], hash_bytes: int):
    root, grouped = element
    members = grouped["member"]
    signatures = list(grouped["signature"])
    if not signatures:
        return
    root_signature = signatures[0]
    for node, signature in members:
        distance = signature_distance(root_signature, signature, hash_bytes)
        yield node, (root, similarity(distance, hash_bytes))


def _route(node: str, grouped: dict[str, Iterable]) -> Iterator[Any]:
    exact = list(grouped["exact"])
    near = list(grouped.get("near", ()))
    sizes = list(grouped.get("size", ()))
    for result in grouped["result"]:
        if exact:
            Metrics.counter(EXACT, "duplicates").inc()
            yield beam.pvalue.TaggedOutput(
                _DUPLICATE, Duplicate(result.example, EXACT, node_id(exact[0]))
            )
        elif near:
            root, score = near[0]
            Metrics.counter(PHASH, "duplicates").inc()
            yield beam.pvalue.TaggedOutput(
                _DUPLICATE, Duplicate(result.example, PHASH, node_id(root), score)
            )
        else:
            size = sizes[0] if sizes else 1
            yield MediaResult(
                result.example.tagged(**{CLUSTER_SIZE_ATTRIBUTE: size})
                if result.signature
                else result.example,
                result.records,
                result.content_key,
                result.signature,
            )
