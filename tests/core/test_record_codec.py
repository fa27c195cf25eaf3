import numpy as np
import pytest

from polymix.core import record_codec
from polymix.core.record_codec import RecordFormatError, decode, encode

FIELDS = {"source": "web", "id": "doc-1", "modality": "text"}


def test_round_trip_keeps_fields_dtypes_and_shapes():
    arrays = {
        "tokens": np.arange(7, dtype=np.int32),
        "patches": np.arange(2 * 768, dtype=np.uint8).reshape(2, 768),
        "mel": np.linspace(-1, 1, 30, dtype=np.float16).reshape(10, 3),
    }
    record = decode(encode({**FIELDS, "grid": [1, 2]}, arrays))
    assert record.fields == {**FIELDS, "grid": [1, 2]}
    for name, array in arrays.items():
        assert record[name].dtype == array.dtype
        np.testing.assert_array_equal(record[name], array)


def test_decoded_arrays_are_views_into_the_record_bytes():
    data = encode(FIELDS, {"tokens": np.arange(1000, dtype=np.int32)})
    tokens = decode(data)["tokens"]
    whole = np.frombuffer(data, dtype=np.uint8)
    assert np.shares_memory(tokens, whole)
    assert (tokens.ctypes.data - whole.ctypes.data) % record_codec.ALIGN == 0


def test_same_input_gives_same_bytes_whatever_the_insertion_order():
    a = encode(
        {"id": "x", "source": "s", "modality": "text"},
        {"b": np.ones(3, np.int8), "a": np.zeros(2, np.int32)},
    )
    b = encode(
        {"modality": "text", "source": "s", "id": "x"},
        {"a": np.zeros(2, np.int32), "b": np.ones(3, np.int8)},
    )
    assert a == b


def test_big_endian_input_is_stored_little_endian():
    record = decode(encode(FIELDS, {"tokens": np.arange(4, dtype=">i4")}))
    assert record["tokens"].dtype.byteorder in ("<", "=")
    np.testing.assert_array_equal(record["tokens"], [0, 1, 2, 3])


@pytest.mark.parametrize(
    "fields, arrays, message",
    [
        ({"source": "s", "id": "x"}, {}, "missing required"),
        (FIELDS, {"bad": np.array([object()])}, "dtype"),
        ({**FIELDS, "tokens": 1}, {"tokens": np.zeros(1, np.int32)}, "both as field and array"),
    ],
)
def test_encode_refuses_what_it_cannot_store_safely(fields, arrays, message):
    with pytest.raises(RecordFormatError, match=message):
        encode(fields, arrays)


def test_decode_refuses_foreign_and_future_records():
    data = bytearray(encode(FIELDS, {"tokens": np.zeros(3, np.int32)}))
    with pytest.raises(RecordFormatError, match="not a polymix record"):
        decode(b"XXXX" + bytes(data[4:]))
    data[4] = record_codec.VERSION + 1
    with pytest.raises(RecordFormatError, match="version"):
        decode(bytes(data))
    with pytest.raises(RecordFormatError, match="shorter"):
        decode(b"PMX")


def test_truncated_record_is_refused():
    data = encode(FIELDS, {"tokens": np.zeros(100, np.int32)})
    with pytest.raises(RecordFormatError, match="runs past the end"):
        decode(data[:-64])
