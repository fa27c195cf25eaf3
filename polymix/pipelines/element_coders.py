"""Beam coders for the elements that cross stages in bulk: `Example`, `Rejection`,
`Duplicate`, `TokenizedRecord`.

Without them Beam pickles each element (its primitives coder falls back to pickle for
any class), writing the module and class name and every field name per element. These
coders write the fields in a fixed order, strings as UTF-8 (lone surrogates kept with
`surrogatepass`, though readers escape them first), and free-form values through
`value_codec`: no pickle, so equal elements give equal bytes (`is_deterministic`).

Most PCollections here carry no type hint, so Beam picks its primitives coder for them;
`register()` makes that coder fall back to `Elements` (ours, then pickle for anything
else) and registers the four typed coders for collections that do carry a hint. It runs
when `polymix.pipelines` is imported, before any graph is built.
"""

from __future__ import annotations

import pickle
from typing import Any

import apache_beam as beam
from apache_beam.coders import coder_impl
from apache_beam.coders.coders import FastCoder

from polymix.pipelines.value_codec import read_value, write_value
from polymix.transforms.example import Duplicate, Example, Rejection, TokenizedRecord

_PICKLED, _EXAMPLE, _REJECTION, _DUPLICATE, _RECORD = range(5)


def _write_str(out, text: str) -> None:
    out.write(text.encode("utf-8", "surrogatepass"), True)


def _read_str(stream) -> str:
    return stream.read_all(True).decode("utf-8", "surrogatepass")


def _write_optional(out, data: bytes | None) -> None:
    if data is None:
        out.write_byte(0)
    else:
        out.write_byte(1)
        out.write(data, True)


def _read_optional(stream) -> bytes | None:
    return stream.read_all(True) if stream.read_byte() else None


def write_example(out, example: Example) -> None:
    """`Example`'s fields in declaration order."""
    _write_str(out, example.source)
    _write_str(out, example.id)
    _write_str(out, example.modality)
    text = example.text
    _write_optional(out, None if text is None else text.encode("utf-8", "surrogatepass"))
    _write_str(out, example.original)
    write_value(out, example.attributes)
    _write_optional(out, example.media)


def read_example(stream) -> Example:
    source, doc_id, modality = _read_str(stream), _read_str(stream), _read_str(stream)
    text = _read_optional(stream)
    return Example(
        source,
        doc_id,
        modality,
        None if text is None else text.decode("utf-8", "surrogatepass"),
        _read_str(stream),
        read_value(stream),
        _read_optional(stream),
    )


def write_rejection(out, rejection: Rejection) -> None:
    write_example(out, rejection.example)
    for text in (rejection.stage, rejection.reason, rejection.detail):
        _write_str(out, text)


def read_rejection(stream) -> Rejection:
    example = read_example(stream)
    return Rejection(example, _read_str(stream), _read_str(stream), _read_str(stream))


def write_duplicate(out, duplicate: Duplicate) -> None:
    write_example(out, duplicate.example)
    _write_str(out, duplicate.stage)
    _write_str(out, duplicate.kept_id)
    write_value(out, duplicate.similarity)  # a float or a numpy scalar, kept as it came


def read_duplicate(stream) -> Duplicate:
    example = read_example(stream)
    return Duplicate(example, _read_str(stream), _read_str(stream), read_value(stream))


def write_record(out, record: TokenizedRecord) -> None:
    for text in (record.source, record.modality, record.id):
        _write_str(out, text)
    out.write(record.payload, True)
    write_value(out, record.positions)
    _write_str(out, record.example_id)


def read_record(stream) -> TokenizedRecord:
    source, modality, record_id = _read_str(stream), _read_str(stream), _read_str(stream)
    payload = stream.read_all(True)
    positions = read_value(stream)
    return TokenizedRecord(source, modality, record_id, payload, positions, _read_str(stream))


_LAYOUTS: dict[type, tuple[int, Any, Any]] = {
    Example: (_EXAMPLE, write_example, read_example),
    Rejection: (_REJECTION, write_rejection, read_rejection),
    Duplicate: (_DUPLICATE, write_duplicate, read_duplicate),
    TokenizedRecord: (_RECORD, write_record, read_record),
}
_READERS = {tag: read for tag, _, read in _LAYOUTS.values()}


class _ElementsImpl(coder_impl.StreamCoderImpl):
    """A type tag, then the element's layout; other values pickled after tag 0."""

    def __init__(self, only: type | None = None) -> None:
        self.only = only

    def encode_to_stream(self, value, out, nested):
        layout = _LAYOUTS.get(type(value))
        if layout is not None and (self.only is None or type(value) is self.only):
            out.write_byte(layout[0])
            layout[1](out, value)
        elif self.only is not None:
            raise TypeError(f"{self.only.__name__} coder given a {type(value).__name__}")
        else:
            out.write_byte(_PICKLED)
            out.write(pickle.dumps(value, pickle.HIGHEST_PROTOCOL), True)

    def decode_from_stream(self, stream, nested):
        tag = stream.read_byte()
        if tag == _PICKLED:
            return pickle.loads(stream.read_all(True))
        return _READERS[tag](stream)


class Elements(FastCoder):
    """Every element type of `polymix.transforms.example`, anything else pickled: the
    fallback of Beam's primitives coder. Not deterministic as a whole (pickle is)."""

    def _create_impl(self):
        return _ElementsImpl()

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self):
        return Any

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class _OneElementType(FastCoder):
    """One element type, deterministically; any other value is an error."""

    element_type: type = object

    def _create_impl(self):
        return _ElementsImpl(self.element_type)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self):
        return self.element_type

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class ExampleCoder(_OneElementType):
    element_type = Example


class RejectionCoder(_OneElementType):
    element_type = Rejection


class DuplicateCoder(_OneElementType):
    element_type = Duplicate


class TokenizedRecordCoder(_OneElementType):
    element_type = TokenizedRecord


class PrimitivesCoder(beam.coders.FastPrimitivesCoder):
    """Beam's primitives coder (what an untyped PCollection gets), falling back to
    `Elements` instead of plain pickle."""

    def __init__(self, fallback_coder: beam.coders.Coder | None = None) -> None:
        super().__init__(fallback_coder or Elements())


def register() -> None:
    """Make these coders the ones Beam picks, typed or not (idempotent)."""
    registry = beam.coders.registry
    for coder in (ExampleCoder, RejectionCoder, DuplicateCoder, TokenizedRecordCoder):
        registry.register_coder(coder.element_type, coder)
    if not isinstance(registry.get_coder(Any), PrimitivesCoder):
        registry.register_fallback_coder(PrimitivesCoder)


register()
