"""A record becomes exactly the positions the pipeline counted, in a fixed order."""

import numpy as np
import pytest
from array_record.python.array_record_module import ArrayRecordReader

from polymix.core import record_codec
from polymix.core.record_layout import DEFAULT_MARKERS, record_positions
from polymix.model.batch import AUDIO, IMAGE, TEXT
from polymix.trainer.data.layout import Layout, RecordLayoutError, to_element
from tests.trainer import data_fixture as F

LAYOUT = Layout(
    seq_len=64, patch_dim=F.PATCH_DIM, n_mels=F.N_MELS, audio_stack=F.STACK, markers=F.MARKERS
)


def _record(arrays, modality="image"):
    return record_codec.decode(
        record_codec.encode({"source": "s", "id": "r1", "modality": modality}, arrays)
    )


def test_text_record_is_its_tokens():
    tokens = np.array([1, 500, 501, 2], np.int32)
    element = to_element(_record({"tokens": tokens}, "text"), LAYOUT)
    assert element["seq"][:, 0].tolist() == tokens.tolist()
    assert (element["seq"][:, 1] == TEXT).all()
    assert element["patches"].shape == (0, F.PATCH_DIM) and element["frames"].shape == (0, 8)


def test_image_block_then_caption_with_markers_and_grid_coords():
    patches = np.arange(6 * F.PATCH_DIM, dtype=np.uint8).reshape(6, F.PATCH_DIM)
    caption = np.array([1, 900, 2], np.int32)
    element = to_element(
        _record({"patches": patches, "grid": np.array([2, 3]), "tokens": caption}), LAYOUT
    )
    seq = element["seq"]
    assert len(seq) == 2 + 6 + 3
    assert seq[0, 0] == F.MARKERS["<image>"] and seq[7, 0] == F.MARKERS["</image>"]
    assert (seq[1:7, 1] == IMAGE).all() and (seq[1:7, 0] == 0).all()
    assert seq[1:7, 2:4].tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert seq[8:, 0].tolist() == caption.tolist()
    np.testing.assert_array_equal(element["patches"], patches)


def test_audio_frames_are_stacked_and_zero_padded():
    mel = np.arange(5 * F.N_MELS, dtype=np.float16).reshape(5, F.N_MELS)
    element = to_element(_record({"mel": mel}, "audio"), LAYOUT)
    assert element["frames"].shape == (3, F.STACK * F.N_MELS)
    np.testing.assert_array_equal(element["frames"].reshape(6, F.N_MELS)[:5], mel)
    assert not element["frames"].reshape(6, F.N_MELS)[5].any()
    seq = element["seq"]
    assert seq[[0, -1], 0].tolist() == [F.MARKERS["<audio>"], F.MARKERS["</audio>"]]
    assert (seq[1:-1, 1] == AUDIO).all() and seq[1:-1, 2].tolist() == [0, 1, 2]


def test_video_is_one_image_block_per_frame_then_audio():
    patches = np.zeros((2 * 2 * 1, F.PATCH_DIM), np.uint8)
    mel = np.zeros((4, F.N_MELS), np.float16)
    record = _record({"patches": patches, "grid": np.array([2, 2, 1]), "mel": mel}, "video")
    seq = to_element(record, LAYOUT)["seq"]
    markers = [
        F.MARKERS[m] for m in ("<image>", "</image>", "<image>", "</image>", "<audio>", "</audio>")
    ]
    assert seq[seq[:, 0] > 0, 0].tolist() == markers
    assert len(seq) == 2 * (2 + 2) + (2 + 2)


def test_oversized_or_misshapen_records_are_refused_by_name():
    with pytest.raises(RecordLayoutError, match="'r1'.*65 positions"):
        to_element(_record({"tokens": np.ones(65, np.int32)}, "text"), LAYOUT)
    with pytest.raises(RecordLayoutError, match="'r1'.*patches"):
        to_element(
            _record({"patches": np.zeros((2, 5), np.uint8), "grid": np.array([1, 2])}), LAYOUT
        )
    with pytest.raises(RecordLayoutError, match="grid"):
        to_element(
            _record({"patches": np.zeros((3, F.PATCH_DIM), np.uint8), "grid": np.array([2, 2])}),
            LAYOUT,
        )


def test_audio_stacked_by_another_factor_than_the_pipeline_is_refused():
    mel = np.zeros((4, F.N_MELS), np.float16)
    record = record_codec.decode(
        record_codec.encode(
            {"source": "s", "id": "r1", "modality": "audio", "stack": 4}, {"mel": mel}
        )
    )
    with pytest.raises(RecordLayoutError, match="stacked audio by 4"):
        to_element(record, LAYOUT)


def test_markers_default_to_the_tokenizers_reserved_ids():
    assert Layout(seq_len=8).marker_ids == DEFAULT_MARKERS
    with pytest.raises(ValueError, match="</audio>"):
        _ = Layout(seq_len=8, markers={"<image>": 9, "</image>": 10, "<audio>": 11}).marker_ids


def test_positions_match_what_the_manifest_counted(corpus):
    root = corpus.manifest_path.parent
    for shard in corpus.manifest.shards():
        reader = ArrayRecordReader(str(root / shard.path))
        counted = sum(
            record_positions(record_codec.decode(r), LAYOUT.audio_stack) for r in reader.read_all()
        )
        reader.close()
        assert counted == shard.tokens, shard.path
