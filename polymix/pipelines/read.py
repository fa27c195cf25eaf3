"""Read one text source: match its globs at run time, read every file, keep every defect."""

from __future__ import annotations

import functools
import os

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from polymix.core.config import SourceConfig
from polymix.transforms.example import Rejection
from polymix.transforms.read_text import TextSourceSpec, read_text_file

REJECTED = "rejected"


def file_id(path: str, base_dir: str) -> str:
    """The file's name relative to the config folder: the same on every machine."""
    if "://" not in path and os.path.isabs(path):
        relative = os.path.relpath(path, base_dir)
        if not relative.startswith(".."):
            return relative
    return path


def open_raw(path: str):
    """Open any Beam filesystem path as bytes; our readers decompress by suffix themselves."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class _ReadFileFn(beam.DoFn):
    def __init__(self, spec: TextSourceSpec, base_dir: str):
        self.spec = spec
        self.base_dir = base_dir

    def process(self, path: str):
        opener = functools.partial(open_raw, path)
        for item in read_text_file(self.spec, opener, path, file_id(path, self.base_dir)):
            if isinstance(item, Rejection):
                beam.metrics.Metrics.counter("read", item.reason).inc()
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            else:
                beam.metrics.Metrics.counter("read", "examples").inc()
                yield item


class ReadTextSource(beam.PTransform):
    """PBegin → {"examples": PCollection[Example], "rejected": PCollection[Rejection]}."""

    def __init__(self, source: SourceConfig, patterns: list[str], base_dir: str):
        super().__init__()
        web = source.web if source.format == "warc" else None
        self.spec = TextSourceSpec(
            source.name, source.modality, source.format, source.text_field, source.id_field, web
        )
        self.patterns = patterns
        self.base_dir = base_dir

    def expand(self, pbegin):
        outputs = (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "Match" >> fileio.MatchAll()
            | "Paths" >> beam.Map(lambda meta: meta.path)
            | "Once" >> beam.Distinct()
            | "Spread" >> beam.Reshuffle()
            | "Read"
            >> beam.ParDo(_ReadFileFn(self.spec, self.base_dir)).with_outputs(
                REJECTED, main="examples"
            )
        )
        return {"examples": outputs.examples, "rejected": outputs[REJECTED]}


def check_patterns(patterns: list[str]) -> tuple[list[str], list[str]]:
    """(patterns that match something, patterns that match nothing), checked at launch."""
    matched, empty = [], []
    for pattern in patterns:
        try:
            found = FileSystems.match([pattern], limits=[1])[0].metadata_list
        except Exception:
            found = []
        (matched if found else empty).append(pattern)
    return matched, empty
