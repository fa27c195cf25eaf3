"""The shape of dedup's graph: a document takes no per-element step it does not need."""

from __future__ import annotations

import apache_beam as beam

from polymix.core.config.near_dedup import NearDedupConfig
from polymix.core.config.text import ExactDedupConfig
from polymix.pipelines.text_dedup import TextDuplicates
from polymix.transforms.example import Example


def _consumers(pipeline: beam.Pipeline) -> dict:
    """Each PCollection → the leaf transforms (full labels) that read it."""
    readers: dict = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node) -> None:
            for pcoll in node.inputs:
                readers.setdefault(pcoll, []).append(node)

    pipeline.visit(Visitor())
    return readers


def _producer_outputs(pipeline: beam.Pipeline, label_end: str) -> dict:
    found = {}

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node) -> None:
            if node.full_label.endswith(label_end):
                found.update(node.outputs)

    pipeline.visit(Visitor())
    return found


def test_documents_go_from_signing_straight_into_their_shuffles() -> None:
    pipeline = beam.Pipeline()
    examples = pipeline | beam.Create([Example("s", str(i), "text", f"t {i}") for i in range(3)])
    _ = examples | "Dedup" >> TextDuplicates(ExactDedupConfig(), NearDedupConfig())
    readers = _consumers(pipeline)
    outputs = _producer_outputs(pipeline, "Dedup/Sign/ParDo(_Sign)")
    next_steps = {
        tag: sorted(node.full_label for node in readers.get(pcoll, []))
        for tag, pcoll in outputs.items()
    }
    # keyed documents meet their decisions; exact keys enter their combine: no Map between
    assert next_steps["items"] == ["Dedup/Join/Both"]
    assert next_steps[None] and all("/Exact/" in label for label in next_steps[None])
    assert not any(label.endswith(("KeyByNode", "ByHash", "TagItems")) for label in _all(pipeline))


def _all(pipeline: beam.Pipeline) -> list[str]:
    labels = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node) -> None:
            labels.append(node.full_label)

    pipeline.visit(Visitor())
    return labels
