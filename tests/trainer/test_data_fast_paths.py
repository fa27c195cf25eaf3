"""The loader's fast paths give what the general ones give: tokens, packed fields, records."""

import sys
import threading

import numpy as np
from array_record.python.array_record_module import ArrayRecordReader

from polymix.core import record_codec
from polymix.core.record_fast import text_tokens
from polymix.trainer.data import pack_kernel
from polymix.trainer.data.layout import Layout, decode_element, decode_parts, to_element
from polymix.trainer.data.packing import pack_block
from polymix.trainer.data.sources import ShardSource, shards_by_source
from tests.trainer import data_fixture as F

LAYOUT = Layout(
    seq_len=F.MAX_SEQ_LEN,
    patch_dim=F.PATCH_DIM,
    n_mels=F.N_MELS,
    audio_stack=F.STACK,
    markers=F.MARKERS,
)
PACK = dict(
    seq_len=F.MAX_SEQ_LEN,
    max_patches=F.MAX_SEQ_LEN,
    max_frames=F.MAX_SEQ_LEN,
    marker_ids=tuple(LAYOUT.marker_ids.values()),
    patch_dim=LAYOUT.patch_dim,
    frame_dim=LAYOUT.frame_dim,
)


def _encode(arrays, **fields):
    return record_codec.encode({"source": "s", "id": "r", "modality": "text", **fields}, arrays)


def _all_records(corpus):
    out = []
    for shard in corpus.manifest.shards():
        reader = ArrayRecordReader(str(corpus.manifest_path.parent / shard.path))
        out += reader.read_all()
    return out


def test_text_tokens_are_the_codecs_tokens_and_refuse_anything_else(corpus):
    seen_text = seen_media = 0
    for data in _all_records(corpus):
        record = record_codec.decode(data)
        fast = text_tokens(data)
        if record.arrays.keys() == {"tokens"}:
            seen_text += 1
            np.testing.assert_array_equal(fast, record.arrays["tokens"])
        else:
            seen_media += 1
            assert fast is None
    assert seen_text and seen_media
    tokens = np.arange(5, dtype=np.int32)
    # Shapes the fast path does not take go to the codec, which decides.
    assert text_tokens(_encode({"tokens": tokens.astype(np.int64)})) is None
    assert text_tokens(_encode({"tokens": tokens, "fields": tokens})) is None
    assert text_tokens(_encode({"tokens": tokens.reshape(5, 1)})) is None
    assert text_tokens(b"PMXR") is None
    whole = _encode({"tokens": tokens})  # 20 bytes of ids, padded to 64, at the end
    assert text_tokens(whole[: len(whole) - 64 + 19]) is None
    np.testing.assert_array_equal(text_tokens(whole[: len(whole) - 64 + 20]), tokens)


def test_a_record_packs_the_same_as_ids_or_as_an_element(corpus):
    records = _all_records(corpus)[:200]
    parts = decode_parts(records, LAYOUT, "s")
    assert any(isinstance(p, np.ndarray) for p in parts), "the fast path was taken"
    elements = [decode_element(data, LAYOUT, "s") for data in records]
    fast = pack_block(parts, **PACK)
    slow = pack_block(elements, **PACK)
    for name, array in slow.fields.items():
        np.testing.assert_array_equal(fast.fields[name], array, err_msg=name)
    for name, array in slow.media.items():
        np.testing.assert_array_equal(fast.media[name], array, err_msg=name)
        np.testing.assert_array_equal(fast.bounds[name], slow.bounds[name], err_msg=name)


def test_packed_fields_follow_each_record_position_by_position():
    text = np.array([9, 10, 11], np.int32)
    image = to_element(
        record_codec.decode(
            _encode(
                {
                    "patches": np.ones((4, F.PATCH_DIM), np.uint8),
                    "grid": np.array([2, 2], np.int32),
                    "tokens": np.array([12, 13], np.int32),
                }
            )
        ),
        LAYOUT,
    )
    block = pack_block([text, image, text], **PACK)
    f = block.fields
    # One row: text (3), image block (<image>, 4 patches, </image>) + caption (2), text (3).
    n = 3 + 6 + 2 + 3
    assert f["segment_ids"][0, :n].tolist() == [1] * 3 + [2] * 8 + [3] * 3
    assert f["positions"][0, :n].tolist() == [0, 1, 2, *range(8), 0, 1, 2]
    assert f["patch_index"][0, 4:8].tolist() == [0, 1, 2, 3]
    assert f["patch_coords"][0, 4:8].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # Text (the closing marker included) predicts the next text of its own record; never
    # across records, never a marker, never from or to a patch.
    assert f["loss_mask"][0, :n].tolist() == (
        [True, True, False] + [False] * 5 + [True, True, False] + [True, True, False]
    )
    assert f["targets"][0, :2].tolist() == [10, 11] and f["targets"][0, 2] == 0
    assert (f["segment_ids"][0, n:] == 0).all() and (f["modality"][0, n:] == 0).all()


def test_first_fit_kernel_never_overfills_a_row():
    rng = np.random.default_rng(0)
    sizes = rng.integers(0, 40, size=(500, 3))
    capacity = np.array([64, 50, 50])
    rows, offsets, used = pack_kernel.first_fit(sizes, capacity)
    for row in range(used):
        members = np.flatnonzero(rows == row)
        assert (sizes[members].sum(axis=0) <= capacity).all()
        # Offsets are the running sums of earlier members of the row, per feature.
        expected = np.cumsum(sizes[members], axis=0) - sizes[members]
        np.testing.assert_array_equal(offsets[members], expected)
    # First fit: no record could have gone to an earlier row that had room when it came.
    assert used < len(sizes)


def test_seeking_and_batched_reads_give_the_same_records_from_many_threads(corpus):
    shards = shards_by_source(corpus.manifest)
    name = max(shards, key=lambda n: sum(s.records for s in shards[n]))
    source = ShardSource(corpus.manifest_path.parent, shards[name])
    expected = [
        r
        for s in shards[name]
        for r in ArrayRecordReader(str(corpus.manifest_path.parent / s.path)).read_all()
    ]
    rng = np.random.default_rng(1)
    failures = []

    def reader(seed):
        picks = np.random.default_rng(seed).integers(0, len(expected), size=(40, 48))
        for row in picks:
            # Short groups seek record by record, long ones go through one batched read.
            for chunk in (row[:3], row):
                got = source.read(chunk)
                if got != [expected[i] for i in chunk.tolist()]:
                    failures.append(chunk)

    threads = [threading.Thread(target=reader, args=(int(s),)) for s in rng.integers(0, 99, 4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between `seek` and `read` if they can
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures
