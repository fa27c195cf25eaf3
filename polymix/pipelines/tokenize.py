"""Tokenize kept text into shard records; the SentencePiece model loads once per worker.

An example is kept only once its records exist: a document the tokenizer fails on is
rejected at stage `tokenize` instead, so `kept` and the shards always agree.
"""

from __future__ import annotations

import apache_beam as beam

from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.transforms.example import Example, TokenizedRecord
from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

STAGE = "tokenize"
KEPT = "kept"


class _TokenizeFn(IsolatedDoFn):
    stage = STAGE

    def __init__(self, model_proto: bytes, max_seq_len: int):
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len
        self.tokenizer: TextTokenizer | None = None

    def setup(self):
        self.tokenizer = TextTokenizer(self.model_proto, self.max_seq_len)

    def handle(self, example: Example):
        assert self.tokenizer is not None
        tokens = 0
        for record_id, payload, positions in self.tokenizer.records(
            example.source, example.modality, example.id, example.text or ""
        ):
            tokens += positions
            yield TokenizedRecord(example.source, example.modality, record_id, payload, positions)
        beam.metrics.Metrics.counter(STAGE, "tokens").inc(tokens)
        yield beam.pvalue.TaggedOutput(KEPT, example)


class TokenizeText(beam.PTransform):
    """PCollection[Example] → {"records": TokenizedRecord, "kept": Example, "rejected": Rejection}.

    A long document gives several records.
    """

    def __init__(self, model_proto: bytes, max_seq_len: int):
        super().__init__()
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len

    def expand(self, examples):
        out = examples | beam.ParDo(_TokenizeFn(self.model_proto, self.max_seq_len)).with_outputs(
            KEPT, REJECTED, main="records"
        )
        return {"records": out.records, KEPT: out[KEPT], REJECTED: out[REJECTED]}
