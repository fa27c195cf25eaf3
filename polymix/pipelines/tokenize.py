"""Tokenize kept text into shard records; the SentencePiece model loads once per worker."""

from __future__ import annotations

import apache_beam as beam

from polymix.transforms.example import Example, TokenizedRecord
from polymix.transforms.sentencepiece_tokenizer import TextTokenizer


class _TokenizeFn(beam.DoFn):
    def __init__(self, model_proto: bytes, max_seq_len: int):
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len
        self.tokenizer: TextTokenizer | None = None

    def setup(self):
        self.tokenizer = TextTokenizer(self.model_proto, self.max_seq_len)

    def process(self, example: Example):
        assert self.tokenizer is not None
        for record_id, payload, positions in self.tokenizer.records(
            example.source, example.modality, example.id, example.text or ""
        ):
            beam.metrics.Metrics.counter("tokenize", "tokens").inc(positions)
            yield TokenizedRecord(example.source, example.modality, record_id, payload, positions)


class TokenizeText(beam.PTransform):
    """PCollection[Example] → PCollection[TokenizedRecord] (a long document gives several)."""

    def __init__(self, model_proto: bytes, max_seq_len: int):
        super().__init__()
        self.model_proto = model_proto
        self.max_seq_len = max_seq_len

    def expand(self, examples):
        return examples | beam.ParDo(_TokenizeFn(self.model_proto, self.max_seq_len))
