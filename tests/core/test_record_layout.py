"""The record layout's one owner: its bytes, every decoder of them, and the position count.

The bytes are written out by hand from the format's description (prefix, sorted JSON
header, 64-byte aligned little-endian arrays), and each position count is counted by hand
from the rule (a text token is one position; an image block is 2 markers + its patches; an
audio block 2 markers + ceil(frames / stack)). The writer, the manifest's split by kind
and the loader's layout are each held to the same hand counts, so any caller that counts
differently fails here.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from polymix.core import record_codec, record_layout
from polymix.core.record_fast import quick_decode, text_tokens
from polymix.trainer.data.layout import Layout, to_element
from polymix.transforms.positions import position_kinds

FIELDS = {"source": "web", "id": "d1", "modality": "text"}
TOKENS = np.array([1, 300, 2], np.int32)


def _by_hand() -> bytes:
    header = b'{"arrays":{"tokens":{"dtype":"int32","offset":0,"shape":[3]}},'
    header += b'"fields":{"id":"d1","modality":"text","source":"web"}}'
    head = b"PMXR" + bytes([1, 0, 0, 0]) + struct.pack("<I", len(header)) + header
    head += b"\0" * (-len(head) % 64)
    body = (1).to_bytes(4, "little") + (300).to_bytes(4, "little") + (2).to_bytes(4, "little")
    return head + body + b"\0" * (64 - len(body))


def test_the_encoder_writes_the_bytes_the_format_describes():
    assert record_codec.encode(FIELDS, {"tokens": TOKENS}) == _by_hand()


def test_every_decoder_reads_the_pinned_bytes_alike():
    data = _by_hand()
    general, quick = record_codec.decode(data), quick_decode(data)
    assert quick is not None
    for record in (general, quick):
        assert record.fields == FIELDS and record.arrays["tokens"].tolist() == [1, 300, 2]
    assert text_tokens(data).tolist() == [1, 300, 2]


STACK = 4
PATCH_DIM = 2 * 2 * 3
N_MELS = 2
# (header fields, arrays, hand count of positions, hand count per kind)
HAND_COUNTED = {
    # 5 caption tokens
    "text": ({}, {"tokens": 5}, 5, {"text": 5}),
    # <image> 6 patches </image>, then 3 caption tokens: 1 + 6 + 1 + 3
    "image": ({"grid": [2, 3]}, {"patches": 6, "tokens": 3}, 11, {"text": 5, "image": 6}),
    # <audio> ceil(9 / 4) = 3 stacked frames </audio>: 1 + 3 + 1
    "audio": ({"stack": STACK}, {"mel": 9}, 5, {"text": 2, "audio": 3}),
    # 2 frames of <image> 4 patches </image>, <audio> ceil(5 / 4) = 2 </audio>, 2 tokens:
    # 2 * (1 + 4 + 1) + (1 + 2 + 1) + 2
    "video": (
        {"grid": [2, 2], "n_frames": 2, "stack": STACK},
        {"patches": 8, "mel": 5, "tokens": 2},
        18,
        {"text": 8, "image": 8, "audio": 2},  # text: 2 tokens + 4 + 2 markers
    ),
}


def _record(modality: str) -> record_codec.Record:
    fields, lengths, _, _ = HAND_COUNTED[modality]
    shapes = {"tokens": (np.int32, ()), "patches": (np.uint8, (PATCH_DIM,))}
    shapes["mel"] = (np.float16, (N_MELS,))
    arrays = {name: np.ones((n, *shapes[name][1]), shapes[name][0]) for name, n in lengths.items()}
    header = {"source": "s", "id": modality, "modality": modality, **fields}
    return record_codec.decode(record_codec.encode(header, arrays))


@pytest.mark.parametrize("modality", sorted(HAND_COUNTED))
def test_positions_of_a_hand_counted_record(modality: str):
    record, (_, _, count, kinds) = _record(modality), HAND_COUNTED[modality]
    assert record_layout.record_positions(record) == count
    counts = record_layout.record_counts(record)
    split = record_layout.position_kinds(**counts)
    assert {kind: n for kind, n in split.items() if n} == kinds


@pytest.mark.parametrize("modality", sorted(HAND_COUNTED))
def test_the_manifest_split_and_the_loader_count_alike(modality: str):
    record, (_, _, count, kinds) = _record(modality), HAND_COUNTED[modality]
    payload = record_codec.encode(record.fields, record.arrays)
    assert position_kinds(modality, payload, count) == kinds
    layout = Layout(seq_len=count, patch_dim=PATCH_DIM, n_mels=N_MELS, audio_stack=STACK)
    assert len(to_element(record, layout)["seq"]) == count


def test_the_writer_budgets_with_the_same_count():
    """What `MediaProcessor` stamps on an image and a video record, from sizes alone."""
    image = record_layout.positions(tokens=3, patches=6, image_blocks=1)
    video = record_layout.positions(tokens=2, patches=8, image_blocks=2, mel_frames=5, stack=STACK)
    assert (image, video) == (HAND_COUNTED["image"][2], HAND_COUNTED["video"][2])
    assert record_layout.image_positions(4) == 6 and record_layout.audio_positions(9, 4) == 5
    assert record_layout.audio_positions(0, 4) == 0  # no frames, no block


def test_marker_ids_come_from_the_manifest_else_the_old_defaults():
    assert record_layout.marker_ids(None) == {
        "<image>": 4,
        "</image>": 5,
        "<audio>": 6,
        "</audio>": 7,
    }
    assert record_layout.marker_ids({}) == record_layout.marker_ids(None)
    recorded = {"<image>": 9, "</image>": 10, "<audio>": 11, "</audio>": 12, "<pad>": 0}
    assert list(record_layout.marker_ids(recorded).values()) == [9, 10, 11, 12]
    with pytest.raises(ValueError, match="</audio>"):
        record_layout.marker_ids({"<image>": 9, "</image>": 10, "<audio>": 11})


def test_a_grid_that_disagrees_with_the_patches_is_named():
    record = record_codec.decode(
        record_codec.encode(
            {"source": "s", "id": "r", "modality": "image", "grid": [2, 2], "n_frames": 2},
            {"patches": np.zeros((4, PATCH_DIM), np.uint8)},
        )
    )
    with pytest.raises(ValueError, match=r"grid \[1, 2, 2\] \(n_frames 2\)"):
        record_layout.record_positions(record)
