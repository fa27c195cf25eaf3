"""Tokenize kept text into shard records; the SentencePiece model loads once per worker.

An example is kept only once its records exist: a document the tokenizer fails on is
rejected at stage `tokenize` instead, so `kept` and the shards always agree.

Documents are encoded `BATCH_DOCUMENTS` at a time, in one SentencePiece call that
hands back int32 buffers, so no per-document call overhead and no Python int per
token; records are then built one document at a time, each inside its own isolation
(`IsolatedDoFn`). A batch whose encoding raises is encoded again one document at a
time, so only the document at fault is rejected, with the error it raises alone.
Which documents share a batch changes no output: a document's records depend only on
its own text.

Scale: `BatchElements` with a fixed size is no shuffle; it buffers within a bundle, so
one worker thread holds at most `BATCH_DOCUMENTS` examples and their ids (~2 KB of text
and ~2.7 KB of int32 ids each at the 1 PB mix: ~300 KB), whatever the corpus size; a
key of 10^8 copies never reaches this stage (exact dedup keeps one).
"""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import numpy as np

from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.transforms.example import Example, TokenizedRecord
from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

STAGE = "tokenize"
KEPT = "kept"
BATCH_DOCUMENTS = 64


class _TokenizeBatchFn(IsolatedDoFn):
    """Takes a list of examples; `handle` sees one (example, ids or None) at a time."""

    stage = STAGE

    def __init__(self, model_proto: bytes, max_seq_len: int):
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len
        self.tokenizer: TextTokenizer | None = None

    def setup(self):
        self.tokenizer = TextTokenizer(self.model_proto, self.max_seq_len)
        self.tokens = beam.metrics.Metrics.counter(STAGE, "tokens")

    def process(self, batch: list[Example]) -> Iterator:
        for pair in zip(batch, self._batch_ids(batch), strict=True):
            yield from IsolatedDoFn.process(self, pair)

    def _batch_ids(self, batch: list[Example]) -> list[np.ndarray | None]:
        """Ids of every document from one call, or None each: they encode alone, isolated."""
        assert self.tokenizer is not None
        try:
            return self.tokenizer.token_ids_batch([example.text or "" for example in batch])
        except Exception:
            return [None] * len(batch)

    def failed_example(self, element: tuple[Example, np.ndarray | None]) -> Example:
        return element[0]

    def handle(self, element: tuple[Example, np.ndarray | None]):
        assert self.tokenizer is not None
        example, ids = element
        tokens = 0
        for record_id, payload, positions in self.tokenizer.records(
            example.source, example.modality, example.id, example.text or "", ids=ids
        ):
            tokens += positions
            yield TokenizedRecord(
                example.source, example.modality, record_id, payload, positions, example.id
            )
        self.tokens.inc(tokens)
        yield beam.pvalue.TaggedOutput(KEPT, example)


class TokenizeText(beam.PTransform):
    """PCollection[Example] → {"records": TokenizedRecord, "kept": Example, "rejected": Rejection}.

    A long document gives several records.
    """

    def __init__(self, model_proto: bytes, max_seq_len: int, batch: int = BATCH_DOCUMENTS):
        super().__init__()
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len
        self.batch = batch

    def expand(self, examples):
        batches = examples | "Batch" >> beam.BatchElements(
            min_batch_size=self.batch, max_batch_size=self.batch, record_metrics=False
        )
        out = batches | "Encode" >> beam.ParDo(
            _TokenizeBatchFn(self.model_proto, self.max_seq_len)
        ).with_outputs(KEPT, REJECTED, main="records")
        return {"records": out.records, KEPT: out[KEPT], REJECTED: out[REJECTED]}
