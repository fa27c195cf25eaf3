"""One failing example is that example's rejection; the job and the other examples go on."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.pipelines.side_items import rejected_item
from polymix.transforms.example import Example, Rejection
from polymix.transforms.failures import failed


class _Inverse(IsolatedDoFn):
    stage = "inverse"

    def handle(self, example: Example):
        yield example.tagged(half=1)  # gathered, then dropped if the next line raises
        yield example.tagged(inverse=1 / int(example.text))


def _summary(item):
    if isinstance(item, Rejection):
        return (item.example.id, item.stage, item.reason, "ZeroDivisionError" in item.detail)
    return (item.id, sorted(item.attributes))


def test_an_exception_rejects_its_example_and_nothing_else():
    examples = [Example("s", str(i), "text", text=str(i)) for i in (2, 0, 4)]
    with beam.Pipeline() as pipeline:
        out = (
            pipeline
            | beam.Create(examples)
            | beam.ParDo(_Inverse()).with_outputs(REJECTED, main="kept")
        )
        assert_that(
            out.kept | "Kept" >> beam.Map(_summary),
            equal_to([("2", ["half"]), ("2", ["inverse"]), ("4", ["half"]), ("4", ["inverse"])]),
            label="kept",
        )
        assert_that(
            out[REJECTED] | "Rejected" >> beam.Map(_summary),
            equal_to([("0", "inverse", "error:ZeroDivisionError", True)]),
            label="rejected",
        )


def _raise_with_address(example):
    raise ValueError(f"cannot use {object()!r} for {example.id}")


def test_the_traceback_is_the_same_bytes_in_every_process_and_install():
    example = Example("s", "x", "text")
    try:
        _raise_with_address(example)
    except ValueError as exc:
        rejection = failed(example, "stage", exc)
    assert rejection.reason == "error:ValueError"
    assert "tests/pipelines/test_isolation.py" not in rejection.detail  # no install folder
    assert "test_isolation.py:" in rejection.detail and "_raise_with_address" in rejection.detail
    line = rejected_item(rejection).payload
    assert b" at 0x" not in line and b"<object object>" in line
    assert b"/work/" not in line and b"/tmp/" not in line


def test_a_side_line_that_cannot_be_encoded_still_becomes_one_line_in_its_group():
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no text form")

    example = Example("s", "bad\udc80", "text", attributes={"odd": Unprintable()})
    item = rejected_item(Rejection(example, "quality", "low_score"))
    assert item.group == ("s", "quality", "low_score") and item.sort_key == "bad\\udc80"
    line = item.payload.decode("utf-8")
    assert line.count("\n") == 1 and "error:RuntimeError" in line and '"id": "bad\\udc80"' in line
