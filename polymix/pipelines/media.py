"""One image, audio or video source as a Beam graph, from its globs to shard records.

    globs ─► match ─► read (files | webdataset | parquet) ─► decode+filter+encode ─► dedup
              │             │                                   │                    │
              └─────────────┴──────── rejected (read / decode / media_filter /      duplicates
                                      media_tokenize)                               (exact_dedup,
                                                                                     phash_dedup)

`MediaSource` returns the same kinds of collections as the text stages, so the corpus
job can flatten them into its shards, side outputs and counts: every input example is
in `inputs` once and ends once in `kept`, `rejected` or `duplicates`.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from polymix.pipelines.media_dedup import MediaDuplicates
from polymix.pipelines.read import file_id, open_raw
from polymix.transforms.example import Example, Rejection
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.process import MediaProcessor, MediaResult
from polymix.transforms.media.read import (
    MediaSourceSpec,
    read_media_file,
    read_media_parquet,
    read_webdataset,
)

REJECTED = "rejected"


def source_spec(source: Any, media: Any) -> MediaSourceSpec:
    """The reader's slice of a `SourceConfig` (+ the modality's file size limit)."""
    limit = getattr(media, source.modality).max_file_bytes
    return MediaSourceSpec(
        name=source.name,
        modality=source.modality,
        format=source.format,
        max_file_bytes=limit,
        id_field=source.id_field,
        media_field=source.media_field,
        caption_field=source.caption_field,
    )


class _ReadMediaFn(beam.DoFn):
    def __init__(self, spec: MediaSourceSpec, base_dir: str) -> None:
        self.spec = spec
        self.base_dir = base_dir

    def process(self, meta: tuple[str, int]):
        path, size = meta
        fid = file_id(path, self.base_dir)
        if self.spec.format == "files":
            items = read_media_file(self.spec, open_raw, path, fid, size)
        else:
            reader = read_webdataset if self.spec.format == "webdataset" else read_media_parquet
            items = _read_stream(reader, self.spec, path, fid)
        for item in items:
            if isinstance(item, Rejection):
                Metrics.counter("read", item.reason).inc()
                yield beam.pvalue.TaggedOutput(REJECTED, item)
            else:
                Metrics.counter("read", "examples").inc()
                yield item


def _read_stream(reader, spec: MediaSourceSpec, path: str, fid: str):
    try:
        handle = open_raw(path)
    except Exception as exc:
        example = Example(spec.name, f"{fid}:file", spec.modality, original={"file": path})
        yield Rejection(example, "read", "unreadable_file", repr(exc))
        return
    with handle:
        yield from reader(spec, handle, path, fid)


class _ProcessFn(beam.DoFn):
    """Decode, filter and encode; the tokenizer and mel filterbank load once per worker."""

    def __init__(self, modality: str, media: Any, tokenizer_proto: bytes | None, max_seq_len: int):
        self.modality = modality
        self.media = media
        self.tokenizer_proto = tokenizer_proto
        self.max_seq_len = max_seq_len
        self.processor: MediaProcessor | None = None

    def setup(self) -> None:
        self.processor = MediaProcessor(
            self.modality, self.media, self.tokenizer_proto, self.max_seq_len
        )

    def process(self, example: Example):
        assert self.processor is not None
        try:
            result = self.processor.process(example)
        except MediaRejected as exc:
            Metrics.counter(exc.stage, exc.reason).inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED,
                Rejection(example.replace(media=None), exc.stage, exc.reason, exc.detail),
            )
            return
        Metrics.counter("media", "records").inc(len(result.records))
        yield result


class ProcessMediaSource(beam.PTransform):
    """PBegin → {"results": MediaResult, "rejected": Rejection, "inputs": ...} for one source.

    Everything `MediaSource` does but dedup: for cross-source dedup, flatten the
    `results` of several sources into one `MediaDuplicates`. Arguments as `MediaSource`.
    """

    def __init__(
        self,
        source: Any,
        media: Any,
        base_dir: str,
        tokenizer_proto: bytes | None,
        max_seq_len: int,
        patterns: list[str] | None = None,
    ) -> None:
        super().__init__()
        if source.modality not in ("image", "audio", "video"):
            raise ValueError(f"source {source.name}: {source.modality} is not a media modality")
        self.source = source
        self.media = media
        self.base_dir = base_dir
        self.tokenizer_proto = tokenizer_proto
        self.max_seq_len = max_seq_len
        self.patterns = patterns if patterns is not None else _resolve(source.paths, base_dir)

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        spec = source_spec(self.source, self.media)
        read = (
            pbegin
            | "Patterns" >> beam.Create(self.patterns)
            | "Match" >> fileio.MatchAll()
            | "Paths" >> beam.Map(lambda meta: (meta.path, meta.size_in_bytes))
            | "Once" >> beam.Distinct()
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read"
            >> beam.ParDo(_ReadMediaFn(spec, self.base_dir)).with_outputs(REJECTED, main="examples")
        )
        examples = read.examples
        if spec.format != "files":  # a shard or table holds many examples: spread them
            examples = examples | "SpreadExamples" >> beam.Reshuffle()
        processed = examples | "Process" >> beam.ParDo(
            _ProcessFn(self.source.modality, self.media, self.tokenizer_proto, self.max_seq_len)
        ).with_outputs(REJECTED, main="results")
        rejected = (read[REJECTED], processed[REJECTED]) | "Rejected" >> beam.Flatten()
        inputs = (
            read.examples | "InputExamples" >> beam.Map(_without_media),
            read[REJECTED],
        ) | "Inputs" >> beam.Flatten()
        return {"results": processed.results, "rejected": rejected, "inputs": inputs}


class KeptOutputs(beam.PTransform):
    """Kept `MediaResult`s → {"records": TokenizedRecord, "kept": Example}."""

    def expand(self, kept: beam.PCollection) -> dict[str, beam.PCollection]:
        return {
            "records": kept | "Records" >> beam.FlatMap(_records),
            "kept": kept | "KeptExamples" >> beam.Map(lambda r: r.example),
        }


class MediaSource(beam.PTransform):
    """PBegin → {"records", "kept", "rejected", "duplicates", "inputs"} for one media source.

    `source` is a `SourceConfig` (modality image, audio or video); `media` the
    `MediaConfig`; `patterns` the globs matched at launch (default: the source's paths
    resolved against `base_dir`). `records` are `TokenizedRecord`s (several per example
    when cut into segments), `kept` the kept `Example`s (media bytes dropped), `inputs`
    one element per input example (an `Example` or a read `Rejection`). Dedup (exact,
    then perceptual for images and videos) is within this source.
    """

    def __init__(
        self,
        source: Any,
        media: Any,
        base_dir: str,
        tokenizer_proto: bytes | None,
        max_seq_len: int,
        patterns: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.process = ProcessMediaSource(
            source, media, base_dir, tokenizer_proto, max_seq_len, patterns
        )
        self.media = media

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        processed = pbegin | "ReadAndProcess" >> self.process
        dedup = processed["results"] | "Dedup" >> MediaDuplicates(
            self.media.perceptual_dedup, self.media.exact_dedup
        )
        return {
            **(dedup["kept"] | "Kept" >> KeptOutputs()),
            "rejected": processed["rejected"],
            "duplicates": dedup["duplicates"],
            "inputs": processed["inputs"],
        }


def _records(result: MediaResult):
    yield from result.records


def _without_media(example: Example) -> Example:
    return example.replace(media=None)


def _resolve(paths: list[str], base_dir: str) -> list[str]:
    """Config paths against the config's folder, which may be a bucket prefix: there
    `os.path.normpath` would fold `gs://` into `gs:/`, and every id would keep the
    bucket's whole path instead of the path below the source's glob."""
    import os
    import posixpath

    def resolve(path: str) -> str:
        if "://" in path or os.path.isabs(path):
            return path
        if "://" in base_dir:
            scheme, rest = base_dir.split("://", 1)
            return f"{scheme}://{posixpath.normpath(posixpath.join(rest, path))}"
        return os.path.normpath(os.path.join(base_dir, path))

    return [resolve(p) for p in paths]


__all__ = ["MediaDuplicates", "MediaSource", "ProcessMediaSource", "KeptOutputs", "source_spec"]
