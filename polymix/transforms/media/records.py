"""The media record layout (written by the pipeline, read by the loader) and its budget.

Every record carries the codec's `source`, `id`, `modality`, plus `doc_id` (the input
example), `chunk` / `chunks` (segment k of n; ids get `#k` when n > 1, as for text).

image (modality "image")
    arrays  patches  uint8   [rows*cols, patch*patch*3]  row-major patches, each (y, x, rgb)
            tokens   int32   [t]  optional caption, BOS .. EOS
    fields  grid [rows, cols], patch, width / height (the file's own size)
audio (modality "audio")
    arrays  mel      float16 [frames, n_mels]  natural-log mel power; frame j centred at
                                               start_s + j * hop_s seconds of the clip
            tokens   int32   [t]  optional transcript, first segment only
    fields  sample_rate, hop_s, window_s, n_mels, stack, start_s, duration_s (whole clip)
video (modality "video")
    arrays  patches      uint8   [n_frames*rows*cols, patch*patch*3]  frame after frame
            frame_times  float32 [n_frames]  seconds on the video's clock (0 = container start)
            mel          float16 [frames, n_mels]  the audio track; frame j centred at
                                                   mel_start_s + j * hop_s on the same clock
            tokens       int32   [t]  optional caption, first segment only
    fields  grid [rows, cols] (every frame), patch, frames_per_second, n_frames,
            start_s / end_s (the segment's window), mel_start_s, hop_s, n_mels, stack,
            has_audio, width / height, duration_s

Every kind, first record only, when the input has them: fields `caption` (the pair's
text as read, lone surrogates replaced: kept even without a tokenizer) and `url` (key.json's).

Positions (what counts against `shards.max_seq_len`) are counted by
`polymix.core.record_layout`, the one count the writer, the manifest and the loader share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polymix.core import record_codec

TEXT_FIELDS = ("caption", "url")


def text_fields(attributes: dict[str, Any]) -> dict[str, str]:
    """The example's caption and url (reader attributes) for its first record's header."""
    return {name: attributes[name] for name in TEXT_FIELDS if name in attributes}


def record_id(doc_id: str, chunk: int, chunks: int) -> str:
    return doc_id if chunks == 1 else f"{doc_id}#{chunk}"


def encode_record(
    source: str,
    modality: str,
    doc_id: str,
    chunk: int,
    chunks: int,
    fields: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> tuple[str, bytes]:
    """(record id, record bytes) with the common fields every media record has."""
    rid = record_id(doc_id, chunk, chunks)
    header = {
        "source": source,
        "id": rid,
        "modality": modality,
        "doc_id": doc_id,
        "chunk": chunk,
        "chunks": chunks,
        **fields,
    }
    return rid, record_codec.encode(header, arrays)


def units(record: record_codec.Record) -> dict[str, int]:
    """Text tokens, image patches and audio (mel) frames a record holds: manifest counts."""
    arrays = record.arrays
    return {
        "text_tokens": int(len(arrays["tokens"])) if "tokens" in arrays else 0,
        "image_patches": int(len(arrays["patches"])) if "patches" in arrays else 0,
        "audio_frames": int(len(arrays["mel"])) if "mel" in arrays else 0,
    }
