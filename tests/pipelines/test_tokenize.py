"""The tokenize stage encodes documents in batches: same ids and records as one at a time.

Real documents (`benchmarks/real_corpus.py`), a tokenizer trained on them the way
`polymix tokenizer train` does, and records cut short so long documents give several.
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
import sentencepiece as spm
from apache_beam.testing.util import assert_that, equal_to

from polymix.core import record_codec
from polymix.pipelines.isolation import REJECTED
from polymix.pipelines.tokenize import KEPT, TokenizeText
from polymix.transforms.example import Example, TokenizedRecord
from polymix.transforms.sentencepiece_tokenizer import (
    BOS_ID,
    EOS_ID,
    TextTokenizer,
    train_sentencepiece,
)
from tests.transforms.filters.helpers import real_sample

MAX_SEQ_LEN = 256
LONE_SURROGATE = "\udc80"  # a str SentencePiece cannot turn into UTF-8


@pytest.fixture(scope="module")
def documents() -> list[dict]:
    return real_sample(total=240, max_chars=40_000)


@pytest.fixture(scope="module")
def model_proto(documents, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("spm") / "spm.model"
    train_sentencepiece((d["text"] for d in documents[::2]), path, vocab_size=1000)
    return path.read_bytes()


def _examples(documents: list[dict]) -> list[Example]:
    return [Example("real", d["id"], "text", text=d["text"]) for d in documents]


def _one_by_one(tokenizer: TextTokenizer, examples: list[Example]) -> list[TokenizedRecord]:
    return [
        TokenizedRecord(e.source, e.modality, record_id, payload, positions, e.id)
        for e in examples
        for record_id, payload, positions in tokenizer.records(e.source, e.modality, e.id, e.text)
    ]


def test_batch_ids_are_sentencepieces_own_ids_of_each_text(documents, model_proto):
    tokenizer = TextTokenizer(model_proto, MAX_SEQ_LEN)
    texts = [d["text"] for d in documents]
    plain = spm.SentencePieceProcessor(model_proto=model_proto)
    batch = tokenizer.token_ids_batch(texts)
    assert len(batch) == len(texts)
    for text, ids in zip(texts, batch, strict=True):
        expected = [BOS_ID, *plain.encode(text, out_type=int), EOS_ID]
        assert ids.dtype == np.int32 and ids.tolist() == expected
        assert tokenizer.token_ids(text).tolist() == expected


def test_records_from_batch_ids_are_the_records_of_each_text_alone(documents, model_proto):
    tokenizer = TextTokenizer(model_proto, MAX_SEQ_LEN)
    plain = spm.SentencePieceProcessor(model_proto=model_proto)
    batch = tokenizer.token_ids_batch([d["text"] for d in documents])
    cut = 0
    for doc, ids in zip(documents, batch, strict=True):
        alone = list(tokenizer.records("real", "text", doc["id"], doc["text"]))
        assert list(tokenizer.records("real", "text", doc["id"], doc["text"], ids=ids)) == alone
        tokens = [record_codec.decode(payload)["tokens"] for _, payload, _ in alone]
        assert np.concatenate(tokens).tolist() == [BOS_ID, *plain.encode(doc["text"]), EOS_ID]
        assert [positions for *_, positions in alone] == [len(t) for t in tokens]
        cut += len(alone) > 1
    assert cut > 10  # long documents are cut into several records


@pytest.mark.parametrize("batch", [64, 7])
def test_the_stage_gives_the_records_of_each_document_alone(documents, model_proto, batch):
    examples = _examples(documents[:120])
    expected = _one_by_one(TextTokenizer(model_proto, MAX_SEQ_LEN), examples)
    with beam.Pipeline() as pipeline:
        out = pipeline | beam.Create(examples) | TokenizeText(model_proto, MAX_SEQ_LEN, batch)
        assert_that(out["records"], equal_to(expected), label="records")
        assert_that(out[KEPT], equal_to(examples), label="kept")
        assert_that(out[REJECTED], equal_to([]), label="rejected")


def test_a_document_that_fails_in_a_batch_is_rejected_alone(documents, model_proto):
    examples = _examples(documents[:40])
    bad = Example("real", "broken", "text", text=documents[40]["text"] + LONE_SURROGATE)
    with pytest.raises(RuntimeError):  # what encoding it alone raises
        TextTokenizer(model_proto, MAX_SEQ_LEN).token_ids(bad.text)
    mixed = examples[:20] + [bad] + examples[20:]
    expected = _one_by_one(TextTokenizer(model_proto, MAX_SEQ_LEN), examples)
    with beam.Pipeline() as pipeline:
        out = pipeline | beam.Create(mixed) | TokenizeText(model_proto, MAX_SEQ_LEN, 64)
        rejected = out[REJECTED] | beam.Map(lambda r: (r.example.id, r.stage, r.reason))
        assert_that(rejected, equal_to([("broken", "tokenize", "error:RuntimeError")]))
        assert_that(out["records"], equal_to(expected), label="records")
        assert_that(out[KEPT], equal_to(examples), label="kept")
