"""SentencePiece training and text → record encoding.

Special ids are fixed (pad 0, bos 1, eos 2, unk 3) so the loader can pad with zeros,
and the media markers are reserved pieces so image and audio blocks can be framed
in the same id space as text.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import sentencepiece as spm

from polymix.core import record_codec, record_layout
from polymix.core.record_layout import MARKER_NAMES

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3

_TRAIN_PIECE_BYTES = 4096  # SentencePiece skips longer "sentences"; we feed it lines


def training_lines(texts: Iterable[str]) -> Iterator[str]:
    """Lines of the documents, each short enough for SentencePiece not to skip it."""
    for text in texts:
        for line in text.split("\n"):
            line = line.strip()
            while line:
                yield line[:_TRAIN_PIECE_BYTES]
                line = line[_TRAIN_PIECE_BYTES:]


def train_sentencepiece(
    texts: Iterable[str],
    output: str | Path,
    *,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    byte_fallback: bool = True,
) -> str:
    """Train a model from `texts` and write it to `output`; returns the model's sha256.

    Single-threaded, unshuffled input: the same texts give the same model bytes.
    """
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=training_lines(texts),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        byte_fallback=byte_fallback,
        pad_id=PAD_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        user_defined_symbols=list(MARKER_NAMES),
        shuffle_input_sentence=False,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    data = buffer.getvalue()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


class TextTokenizer:
    """Encodes a document into one or more records of at most `max_seq_len` token ids."""

    def __init__(self, model_proto: bytes, max_seq_len: int):
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        self.max_seq_len = max_seq_len
        expected = {"<pad>": PAD_ID, "<s>": BOS_ID, "</s>": EOS_ID}
        wrong = {p: i for p, i in expected.items() if self.processor.piece_to_id(p) != i}
        if wrong:
            raise ValueError(f"tokenizer model has unexpected special ids for {sorted(wrong)}")

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def specials(self) -> dict[str, int]:
        return {marker: self.processor.piece_to_id(marker) for marker in MARKER_NAMES}

    def token_ids(self, text: str) -> np.ndarray:
        """BOS .. EOS ids as int32, straight from SentencePiece's buffer: no Python ints."""
        return self.processor.encode(text, out_type="numpy", add_bos=True, add_eos=True)

    def token_ids_batch(self, texts: list[str]) -> list[np.ndarray]:
        """`token_ids` of each text in one call; any text that fails fails the whole call.

        One thread: a runner already gives every core its own worker, so SentencePiece's
        pool would only contend with them.
        """
        return self.processor.encode(
            texts, out_type="numpy", add_bos=True, add_eos=True, num_threads=1
        )

    def records(
        self,
        source: str,
        modality: str,
        doc_id: str,
        text: str,
        ids: np.ndarray | None = None,
    ) -> Iterator[tuple[str, bytes, int]]:
        """(record id, encoded record, positions) per chunk; chunk ids add `#k` when cut.

        `ids` are `token_ids(text)` when a batch already encoded them.
        """
        if ids is None:
            ids = self.token_ids(text)
        chunks = max(1, -(-len(ids) // self.max_seq_len))
        for k in range(chunks):
            piece = ids[k * self.max_seq_len : (k + 1) * self.max_seq_len]
            record_id = doc_id if chunks == 1 else f"{doc_id}#{k}"
            fields = {
                "source": source,
                "id": record_id,
                "modality": modality,
                "doc_id": doc_id,
                "chunk": k,
                "chunks": chunks,
            }
            positions = record_layout.positions(tokens=len(piece))
            yield record_id, record_codec.encode(fields, {"tokens": piece}), positions
