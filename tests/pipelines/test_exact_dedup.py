"""ExactDuplicates on DirectRunner: one copy per normalized text, decided on ids only."""

from __future__ import annotations

import random

import apache_beam as beam

from polymix.core.config.text import ExactDedupConfig
from polymix.transforms.example import Duplicate, Example
from tests.support.group_probe import collect, probe_groups

_PAGE = " ".join(f"word{i % 97} filler{i % 13}" for i in range(220))  # ~2.6 KB


def _example(doc_id: str, text: str, source: str = "web") -> Example:
    return Example(source=source, id=doc_id, modality="text", text=text)


def _page(spec: tuple[str, str, str]) -> Example:
    """Examples are built inside the pipeline: `Create` of megabytes of text is slow."""
    doc_id, source, tail = spec
    return _example(doc_id, f"{_PAGE}{tail}", source)


def _run(examples: list[Example], config: ExactDedupConfig) -> tuple[list, list]:
    from polymix.pipelines.dedup_alone import ExactDuplicates

    with beam.Pipeline() as pipeline:
        if all(e.text.startswith(_PAGE) for e in examples):
            specs = [(e.id, e.source, e.text[len(_PAGE) :]) for e in examples]
            created = pipeline | beam.Create(specs, reshuffle=False) | beam.Map(_page)
        else:
            created = pipeline | beam.Create(examples, reshuffle=False)
        out = created | ExactDuplicates(config)
        kept: list[Example] = collect(out["kept"], "GatherKept")
        duplicates: list[Duplicate] = collect(out["duplicates"], "GatherDuplicates")
    return kept, duplicates


def test_hot_group_crosses_as_ids_not_documents(monkeypatch):
    """2,000 copies of one page: no key holds their texts, each page crosses one shuffle."""
    copies = [_example(f"copy{i:05d}", _PAGE) for i in range(2000)]
    unique = [_example(f"u{i:03d}", f"{_PAGE} unique tail {i}") for i in range(50)]
    examples = copies + unique
    random.Random(3).shuffle(examples)
    stats = probe_groups(monkeypatch)
    kept, duplicates = _run(examples, ExactDedupConfig())
    assert sorted(e.id for e in kept) == sorted(["copy00000"] + [e.id for e in unique])
    assert len(duplicates) == 1999 and {d.kept_id for d in duplicates} == {"copy00000"}
    # the hot group would be 2,000 x 2.6 KB = 5 MB under one key; ids spread over salts
    assert stats.largest_values <= 64, stats.per_label
    assert stats.largest_bytes <= 16 * 1024, stats.largest_bytes
    assert stats.examples_crossing == len(examples)  # once: the final join


def test_kept_is_smallest_id_whatever_the_order():
    texts = ["alpha beta", "alpha beta", "gamma", "alpha beta", "gamma"]
    ids = ["d3", "d1", "d9", "d2", "d0"]
    for seed in range(3):
        pairs = list(zip(ids, texts, strict=True))
        random.Random(seed).shuffle(pairs)
        kept, duplicates = _run([_example(i, t) for i, t in pairs], ExactDedupConfig())
        assert sorted(e.id for e in kept) == ["d0", "d1"]
        assert sorted((d.example.id, d.kept_id, d.stage) for d in duplicates) == [
            ("d2", "d1", "exact_dedup"),
            ("d3", "d1", "exact_dedup"),
            ("d9", "d0", "exact_dedup"),
        ]


def test_scope_source_keeps_one_copy_per_source():
    examples = [
        _example("a", "same text", "web"),
        _example("b", "same text", "books"),
        _example("c", "same text", "web"),
    ]
    kept, duplicates = _run(examples, ExactDedupConfig(scope="source"))
    assert sorted((e.source, e.id) for e in kept) == [("books", "b"), ("web", "a")]
    assert [(d.example.id, d.kept_id) for d in duplicates] == [("c", "a")]
    kept, duplicates = _run(examples, ExactDedupConfig(scope="global"))
    assert [e.id for e in kept] == ["b"]  # the smallest (source, id)
    assert sorted((d.example.id, d.kept_id) for d in duplicates) == [("a", "b"), ("c", "b")]


def test_disabled_passes_everything_through():
    examples = [_example("a", "x"), _example("b", "x")]
    kept, duplicates = _run(examples, ExactDedupConfig(enabled=False))
    assert sorted(e.id for e in kept) == ["a", "b"] and duplicates == []
