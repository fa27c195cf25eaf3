"""The element coders: pinned bytes, exact round trips of hostile values, Beam picks them."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import numpy as np
import pytest

from polymix.pipelines.element_coders import (
    DuplicateCoder,
    ExampleCoder,
    PrimitivesCoder,
    RejectionCoder,
    TokenizedRecordCoder,
)
from polymix.transforms.example import Duplicate, Example, Rejection, TokenizedRecord

HOSTILE_ATTRIBUTES = {
    "scores": {"b": [1, 2.5, None, True, False, (3, "x")], "a": -0.0, "nan": float("nan")},
    "array": np.arange(6, dtype="<f4").reshape(2, 3),
    "big_endian": np.array([1, 2], dtype=">i8"),
    "scalar": np.float32(1.5),
    "huge": 2**70,
    "surrogate \udcff": "lone \ud800",
    "set": {3, 1, 2},
    7: "int key beside str keys",
}


def _hostile() -> Example:
    return Example(
        "src \u00e9",
        "id/\ud83d\ude00",
        "text",
        "t\udcffxt\0",
        {"k": ["\ud800"]},
        HOSTILE_ATTRIBUTES,
        b"\0\xff",
    )


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same types (arrays by dtype, shape and bytes; NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b and (not isinstance(a, float) or str(a) == str(b))


def test_one_example_pinned_bytes() -> None:
    example = Example("web", "a/1", "text", "héllo", '{"url": "x"}', {"n": 2})
    assert ExampleCoder().encode(example) == (
        b"\x01\x03web\x03a/1\x04text\x01\x06h\xc3\xa9llo\x0c"
        b'{"url": "x"}\x01\x07\x07\x01\x04\x01n\x01\x02\x00'
    )


@pytest.mark.parametrize(
    ("coder", "value"),
    [
        (ExampleCoder(), _hostile()),
        (ExampleCoder(), Example("s", "i", "image", None)),
        (RejectionCoder(), Rejection(_hostile(), "quality", "c4:few_words", "Trace\udcff")),
        (DuplicateCoder(), Duplicate(_hostile(), "near_dedup", "k", np.float64(0.81))),
        (TokenizedRecordCoder(), TokenizedRecord("s", "text", "i#0", b"\0" * 9, 7, "i")),
        (PrimitivesCoder(), ("node", [_hostile(), 3, {"x": Example("s", "i", "text")}])),
    ],
)
def test_round_trip_exact(coder: beam.coders.Coder, value: Any) -> None:
    assert _same(coder.decode(coder.encode(value)), value)


def test_equal_elements_equal_bytes() -> None:
    forward = Example("s", "i", "text", "x", attributes={"a": 1, "b": {"c": 2, "d": 3}})
    backward = Example("s", "i", "text", "x", attributes={"b": {"d": 3, "c": 2}, "a": 1})
    assert ExampleCoder().encode(forward) == ExampleCoder().encode(backward)
    odd = {"z": np.int64(1), 1: "mixed keys"}
    reordered = {1: "mixed keys", "z": np.int64(1)}
    assert ExampleCoder().encode(forward.replace(attributes=odd)) == ExampleCoder().encode(
        forward.replace(attributes=reordered)
    )
    assert ExampleCoder().is_deterministic()


def test_beam_picks_them() -> None:
    assert isinstance(beam.coders.registry.get_coder(Example), ExampleCoder)
    assert isinstance(beam.coders.registry.get_coder(Any), PrimitivesCoder)
    untyped = beam.coders.registry.get_coder(Any).encode(Example("s", "i", "text", "x"))
    assert b"polymix" not in untyped  # not pickled: no module name per element


def test_typed_coder_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        ExampleCoder().encode(Rejection(Example("s", "i", "text"), "read", "bad"))
