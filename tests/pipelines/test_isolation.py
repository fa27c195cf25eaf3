"""One failing example is that example's rejection; the job and the other examples go on."""

from __future__ import annotations

import gzip
import json

import apache_beam as beam
import pytest
import yaml
from apache_beam.testing.util import assert_that, equal_to

from polymix.cli import main
from polymix.core.manifest import load_manifest
from polymix.pipelines.isolation import REJECTED, IsolatedDoFn
from polymix.pipelines.side_items import rejected_item
from polymix.sample import web_text
from polymix.transforms.example import Example, Rejection
from polymix.transforms.failures import failed
from polymix.transforms.normalize import normalize_text
from tests.pipelines.conftest import run_pipeline
from tests.support.run_layout import data_root


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


# --- through a whole run: a stage that raises on one document ---------------------------


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    """A run where normalization, a filter and the tokenizer each raise on one document."""
    import polymix.pipelines.normalize as normalize_stage
    import polymix.pipelines.quality as quality_stage
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    root = tmp_path_factory.mktemp("faulty")
    pages = web_text.make_documents("clean", 9, seed=31)
    marked = {"normalize": pages[0], "quality": pages[1], "tokenize": pages[2]}
    (root / "a.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in pages) + "\n")
    source = {"name": "web", "modality": "text", "paths": ["a.jsonl"], "format": "jsonl"}
    config = root / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"sources": [source], "tokenizer": {"model": "spm.model", "vocab_size": 800}}
        )
    )
    assert main(["tokenizer", "train", str(config), "--allow-smaller"]) == 0

    def failing(function, stage, text_of):
        def wrapped(*args, **kwargs):
            if text_of(*args)[:40] == normalize_text(marked[stage])[:40]:
                raise ValueError(f"{stage} cannot handle {object()!r}")
            return function(*args, **kwargs)

        return wrapped

    patch = pytest.MonkeyPatch()
    real_normalize, real_stages, real_records = (
        normalize_stage.normalize_source_text,
        quality_stage.run_stages,
        TextTokenizer.records,
    )
    patch.setattr(
        normalize_stage,
        "normalize_source_text",
        failing(real_normalize, "normalize", lambda t, *settings: t),
    )
    patch.setattr(quality_stage, "run_stages", failing(real_stages, "quality", lambda s, t: t))
    patch.setattr(
        TextTokenizer, "records", failing(real_records, "tokenize", lambda self, *a: a[3])
    )
    try:
        run_pipeline(config, root / "out")
    finally:
        patch.undo()
    return root / "out", len(pages)


def test_a_stage_raising_on_one_document_rejects_it_and_the_run_completes(faulty_run):
    output, documents = faulty_run
    totals = load_manifest(output / "manifest.json").sources["web"]
    assert (
        totals.input == documents == totals.kept + totals.duplicates_total + totals.rejected_total
    )
    for stage in ("normalize", "quality", "tokenize"):
        assert totals.rejected[stage] == {"error:ValueError": 1}, stage
        (part,) = (data_root(output) / "rejected" / "web" / stage / "error:ValueError").iterdir()
        (row,) = [json.loads(line) for line in gzip.decompress(part.read_bytes()).splitlines()]
        assert row["detail"].startswith("Traceback") and f"{stage} cannot handle" in row["detail"]
        assert " at 0x" not in row["detail"]
    manifest = load_manifest(output / "manifest.json")
    records = sum(s.records for s in [*manifest.shards(), *manifest.eval_shards()])
    assert records >= totals.kept  # every kept document has its records, trained or held out
