"""Packed batches: exact model shapes, whole documents, restarting positions, honest masks."""

import numpy as np

from polymix.model.batch import AUDIO, FIELDS, IMAGE, PAD, TEXT
from polymix.trainer.data import fill_rate, make_loader
from polymix.trainer.data.layout import stack_frames
from polymix.trainer.data.packing import first_fit
from tests.trainer import data_fixture as F

B, L = 8, F.MAX_SEQ_LEN


def batches(corpus, n=12, **kwargs):
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs(**kwargs))
    return [next(loader) for _ in range(n)]


def test_fields_dtypes_and_shapes_are_the_models(corpus):
    sizes = {
        "B": B,
        "L": L,
        "P": L,
        "F": L,
        "D_patch": F.PATCH_DIM,
        "D_frame": F.N_MELS * F.STACK,
        "2": 2,
    }
    for batch in batches(corpus, 2):
        assert batch.keys() == FIELDS.keys()
        for name, (dtype, dims) in FIELDS.items():
            assert batch[name].dtype == np.dtype(dtype), name
            assert batch[name].shape == tuple(sizes[d] for d in dims), name


def test_every_segment_is_one_whole_record_with_its_media(corpus):
    markers = set(F.MARKERS.values())
    for batch in batches(corpus):
        for row, start, end, source, uid in F.segments(batch, corpus):
            rec_source, text, patches, mel = corpus.records[uid]
            assert source == rec_source
            window = slice(start, end)
            modality = batch["modality"][row, window]
            tokens = batch["tokens"][row, window]
            # Segment is contiguous and its text (markers aside) is the record's text, whole.
            assert (batch["segment_ids"][row, window] == batch["segment_ids"][row, start]).all()
            text_ids = tokens[(modality == TEXT) & ~np.isin(tokens, list(markers))]
            np.testing.assert_array_equal(text_ids, text)
            # Positions restart at 0 for each document and count up.
            np.testing.assert_array_equal(batch["positions"][row, window], np.arange(end - start))
            image = modality == IMAGE
            got = batch["patches"][row][batch["patch_index"][row, window][image]]
            expected = patches if patches is not None else np.zeros((0, F.PATCH_DIM), np.uint8)
            np.testing.assert_array_equal(got, expected)
            audio = modality == AUDIO
            got = batch["frames"][row][batch["frame_index"][row, window][audio]]
            if mel is None:
                assert not audio.any()
            else:
                np.testing.assert_array_equal(got, stack_frames(mel, F.STACK))
                assert batch["frame_coords"][row, window][audio].tolist() == list(
                    range(audio.sum())
                )


def test_loss_mask_only_on_text_predicting_text_of_the_same_document(corpus):
    markers = list(F.MARKERS.values())
    for batch in batches(corpus):
        mask, modality, seg = batch["loss_mask"], batch["modality"], batch["segment_ids"]
        assert not mask[modality != TEXT].any(), "media and padding carry no loss"
        assert not mask[:, -1].any()
        rows, cols = np.nonzero(mask)
        assert (seg[rows, cols] == seg[rows, cols + 1]).all(), "no target across documents"
        assert (modality[rows, cols + 1] == TEXT).all()
        np.testing.assert_array_equal(batch["targets"][rows, cols], batch["tokens"][rows, cols + 1])
        assert not np.isin(batch["targets"][mask], markers).any(), "markers are structure, not loss"
        pad = modality == PAD
        assert (seg[pad] == 0).all() and (batch["positions"][pad] == 0).all()
        assert (batch["tokens"][pad] == 0).all() and (batch["tokens"][modality == IMAGE] == 0).all()


def test_fill_rate_is_reported_and_high(corpus):
    rates = [fill_rate(b) for b in batches(corpus, 20)]
    print(f"fill rate {np.mean(rates):.3f} (min {np.min(rates):.3f}) at {B} rows x {L}")
    assert np.mean(rates) > 0.8


def test_first_fit_puts_each_record_in_the_first_row_with_room_for_all_its_parts():
    capacity = np.array([10, 4, 4])
    sizes = np.array([[6, 0, 0], [6, 4, 0], [4, 4, 0], [3, 0, 4], [1, 0, 0]])
    rows, offsets, used = first_fit(sizes, capacity)
    # Row 1 opens for [6,4,0] (row 0 has only 4 positions left); [4,4,0] then fills row 0;
    # [3,0,4] and [1,0,0] find row 0 full and go to row 1.
    assert rows.tolist() == [0, 1, 0, 1, 1] and used == 2
    assert offsets[:, 0].tolist() == [0, 0, 6, 6, 9]
    for row in range(used):
        assert (sizes[rows == row].sum(axis=0) <= capacity).all()
