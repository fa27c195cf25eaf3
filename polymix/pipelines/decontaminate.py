"""Beam stage: remove documents that share an n-gram with an evaluation set.

    eval files ─► (key, (eval set, n-gram)) ─ smallest per key ─┐
    documents ─► (key, (source, id)) for each distinct n-gram ──┴─GBK(key)─► (doc, candidate)
    candidates ─ 4 smallest per doc ─┐
    documents ─ by (source, id) ─────┴─CoGBK─► words checked ─► kept | decontaminate/<eval set>

Nothing is a side input: the eval n-grams meet the documents' n-grams in a join by key,
so neither side is gathered onto one worker, whatever the eval sets' size. What one key
holds: an eval key has one eval value and every document containing that n-gram, as
(source, id) pairs streamed by the runner, never the documents themselves; the doc-side
pass only scans a group for an eval value and emits nothing when there is none.

At 1 PB (5x10^11 documents of ~2 KB, ~30% kept when this stage runs, ~350 words each):
1.5x10^11 documents x ~340 distinct 13-grams x ~40 bytes (8-byte key + id) ~ 2 PB of
shuffle, the price of an exact join (a Bloom filter of the eval keys as a side input would
cut it, at the cost of holding the eval set on every worker). Eval sets: 10^6-10^8 n-grams
(~100 bytes each with their text), spread over keys like everything else. A hot n-gram
(boilerplate shared by 10^8 pages) is one key of 10^8 ids, ~4 GB streamed once by one
worker; when it is in an eval set, 10^8 candidates leave it, one per document. The
final join holds one document and at most 4 candidates per key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from polymix.core.config.decontaminate import DecontaminateConfig, EvalSetConfig
from polymix.core.errors import UserFacingError
from polymix.transforms.decontaminate import contains_ngram, document_keys, eval_ngrams, words
from polymix.transforms.example import Example, Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

STAGE = "decontaminate"
REJECTED = "rejected"
KEPT = "kept"
CANDIDATES_PER_DOCUMENT = 4  # more than one only matters for 64-bit key collisions
_EVAL, _DOC = 0, 1


def _open(path: str):
    from polymix.pipelines.read import open_raw

    return open_raw(path)


def eval_file_ngrams(eval_set: EvalSetConfig, path: str, n: int) -> Iterator[tuple[int, tuple]]:
    """(key, (eval set, n-gram)) for every field of every record of one eval file."""
    for text_field in eval_set.text_fields:
        spec = TextSourceSpec(eval_set.name, "text", eval_set.format, text_field=text_field)
        for item in read_text_file(spec, lambda: _open(path), path, path):
            if isinstance(item, Rejection):
                Metrics.counter(STAGE, f"eval_{item.reason}").inc()
                continue
            for key, ngram in eval_ngrams(item.text or "", n).items():
                yield key, (eval_set.name, ngram)


def _document_keys(example: Example, n: int) -> Iterator[tuple[int, tuple]]:
    for key in document_keys(example.text or "", n):
        yield key, (_DOC, (example.source, example.id))


def _candidates(key_values: tuple[int, Iterable[tuple[int, Any]]]) -> Iterator[tuple]:
    """(document, candidate) for a key that an eval set holds; two passes, nothing kept."""
    _, values = key_values
    match = next((value for tag, value in values if tag == _EVAL), None)
    if match is None:
        return
    for tag, value in values:
        if tag == _DOC:
            yield value, match


def _verdict(joined: tuple[tuple, dict[str, list]]) -> Iterator[Any]:
    _, groups = joined
    candidates = sorted(c for found in groups["candidates"] for c in found)
    for example in groups["examples"]:
        tokens = words(example.text or "") if candidates else []
        for eval_name, ngram in candidates:
            if contains_ngram(tokens, ngram):
                Metrics.counter(STAGE, eval_name).inc()
                tagged = example.tagged(decontaminate={"eval_set": eval_name, "ngram": ngram})
                rejection = Rejection(tagged, STAGE, eval_name, f"{eval_name}: {ngram}")
                yield beam.pvalue.TaggedOutput(REJECTED, rejection)
                break
        else:
            if candidates:
                Metrics.counter(STAGE, "key_collisions").inc()
            yield example


class _EvalNgramsFn(beam.DoFn):
    def __init__(self, eval_sets: dict[str, EvalSetConfig], n: int) -> None:
        self._eval_sets = eval_sets
        self._n = n

    def process(self, named_path: tuple[str, str]) -> Iterator[tuple[int, tuple]]:
        name, path = named_path
        yield from eval_file_ngrams(self._eval_sets[name], path, self._n)


class Decontaminate(beam.PTransform):
    """PCollection[Example] -> {"kept", "rejected"}; `patterns` are each eval set's resolved globs."""

    def __init__(self, config: DecontaminateConfig, patterns: dict[str, list[str]]) -> None:
        super().__init__()
        self._config = config
        self._patterns = patterns

    def _eval_keys(self, pipeline: beam.Pipeline) -> beam.PCollection:
        sets = {e.name: e for e in self._config.eval_sets}
        named = [(name, p) for name in sorted(sets) for p in self._patterns[name]]
        return (
            pipeline
            | "EvalPatterns" >> beam.Create(named)
            | "EvalMatch" >> beam.FlatMap(_match)
            | "EvalFiles" >> beam.Distinct()
            | "EvalSpread" >> beam.Reshuffle()
            | "EvalNgrams" >> beam.ParDo(_EvalNgramsFn(sets, self._config.ngram_words))
            | "OnePerKey" >> beam.CombinePerKey(min)
        )

    def _check_patterns(self) -> None:
        """Every eval set must match a file at launch: an empty one would check nothing."""
        from polymix.pipelines.read import check_patterns

        for name, patterns in sorted(self._patterns.items()):
            matched, _ = check_patterns(patterns)
            if not matched:
                raise UserFacingError(
                    f"filters.decontaminate.eval_sets({name}).paths: no file matches {patterns}"
                )

    def expand(self, examples: beam.PCollection) -> dict[str, beam.PCollection]:
        self._check_patterns()
        n = self._config.ngram_words
        eval_side = self._eval_keys(examples.pipeline) | "TagEval" >> beam.MapTuple(
            lambda key, value: (key, (_EVAL, value))
        )
        doc_side = examples | "DocumentKeys" >> beam.FlatMap(_document_keys, n)
        candidates = (
            (eval_side, doc_side)
            | "BothSides" >> beam.Flatten()
            | "ByNgram" >> beam.GroupByKey()
            | "Candidates" >> beam.FlatMap(_candidates)
            | "FewPerDocument" >> beam.combiners.Top.SmallestPerKey(CANDIDATES_PER_DOCUMENT)
        )
        keyed = examples | "ById" >> beam.Map(lambda e: ((e.source, e.id), e))
        results = (
            {"examples": keyed, "candidates": candidates}
            | "WithCandidates" >> beam.CoGroupByKey()
            | "Check" >> beam.FlatMap(_verdict).with_outputs(REJECTED, main=KEPT)
        )
        return {KEPT: results[KEPT], REJECTED: results[REJECTED]}


def _match(named_pattern: tuple[str, str]) -> Iterator[tuple[str, str]]:
    from apache_beam.io.filesystems import FileSystems

    name, pattern = named_pattern
    for result in FileSystems.match([pattern]):
        for metadata in result.metadata_list:
            yield name, metadata.path
