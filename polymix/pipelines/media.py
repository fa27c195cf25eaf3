"""One image, audio or video source as a Beam graph, from its globs to shard records.

    globs ─► match ─► read (files | webdataset | parquet) ─► unique ids ─► decode+filter+encode ─► dedup
              │             │                                 │             │                    │
              └─────────────┴──────── rejected (read / duplicate_id / decode / media_filter /   duplicates
                                      media_tokenize / media)                                   (exact_dedup,
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

from polymix.core.config.read import ReadConfig
from polymix.pipelines.isolation import IsolatedDoFn
from polymix.pipelines.media_dedup import MediaDuplicates
from polymix.pipelines.read import SourceRoots, count_read, open_raw
from polymix.pipelines.unique_ids import UniqueIds
from polymix.transforms.example import Example, Rejection
from polymix.transforms.failures import failed
from polymix.transforms.media.errors import MediaRejected
from polymix.transforms.media.process import MediaProcessor, MediaResult
from polymix.transforms.media.read import (
    MediaSourceSpec,
    read_media_file,
    read_media_parquet,
    read_webdataset,
)
from polymix.transforms.unicode_safety import (
    escape_unencodable,
    has_control_characters,
    is_encodable,
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


def identity_problem(example: Example, max_id_chars: int) -> tuple[str, str] | None:
    """(reason, detail) when an example's id or text would break a hash, a coder or a node key."""
    if not is_encodable(example.id):
        return "invalid_unicode", "the id holds a lone surrogate"
    if example.text is not None and not is_encodable(example.text):
        return "invalid_unicode", "the caption holds a lone surrogate"
    if has_control_characters(example.id):
        return "invalid_id", "the id holds control characters"
    if len(example.id) > max_id_chars:
        return "invalid_id", f"the id has {len(example.id)} characters > read.max_id_chars"
    return None


def _refused(example: Example, reason: str, detail: str) -> Rejection:
    safe = example.replace(
        id=escape_unencodable(example.id),
        text=None if example.text is None else escape_unencodable(example.text),
        media=None,
    )
    return Rejection(safe, "read", reason, detail)


class _ReadMediaFn(beam.DoFn):
    """One file → its examples numbered in file order (for `UniqueIds`) and its rejections.

    A reader that raises part-way costs the rest of the file, as one `error:<Type>`
    rejection; examples with ids or captions downstream could not encode are refused.
    """

    def __init__(self, spec: MediaSourceSpec, roots: SourceRoots, max_id_chars: int) -> None:
        self.spec = spec
        self.roots = roots
        self.max_id_chars = max_id_chars

    def process(self, meta: tuple[str, int]):
        path, size = meta
        fid = self.roots.file_id(path)
        number = 0
        try:
            for item in self._items(path, fid, size):
                count_read(self.spec.name)
                if isinstance(item, Example):
                    problem = identity_problem(item, self.max_id_chars)
                    if problem is not None:
                        item = _refused(item, *problem)
                if isinstance(item, Rejection):
                    Metrics.counter("read", item.reason).inc()
                    yield beam.pvalue.TaggedOutput(REJECTED, item)
                else:
                    Metrics.counter("read", "examples").inc()
                    yield (fid, number), item
                    number += 1
        except Exception as exc:
            rest = Example(
                self.spec.name, f"{fid}:rest", self.spec.modality, original={"file": fid}
            )
            yield beam.pvalue.TaggedOutput(REJECTED, failed(rest, "read", exc))
        count_read(self.spec.name, documents=0, size=size)

    def _items(self, path: str, fid: str, size: int):
        if self.spec.format == "files":
            return read_media_file(self.spec, open_raw, path, fid, size)
        reader = read_webdataset if self.spec.format == "webdataset" else read_media_parquet
        return _read_stream(reader, self.spec, path, fid)


def _read_stream(reader, spec: MediaSourceSpec, path: str, fid: str):
    try:
        handle = open_raw(path)
    except Exception as exc:
        example = Example(spec.name, f"{fid}:file", spec.modality, original={"file": fid})
        detail = f"{type(exc).__name__}: {exc}".replace(path, fid)
        yield Rejection(example, "read", "unreadable_file", detail)
        return
    with handle:
        yield from reader(spec, handle, path, fid)


class _ProcessFn(IsolatedDoFn):
    """Decode, filter and encode; the tokenizer and mel filterbank load once per worker."""

    stage = "media"

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

    def failed_example(self, example: Example) -> Example:
        return example.replace(media=None)

    def handle(self, example: Example):
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
        read: ReadConfig | None = None,
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
        # from every configured glob, matched or not, so ids do not depend on which match
        self.roots = SourceRoots(_resolve(source.paths, base_dir))
        self.read = read or ReadConfig()

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
            >> beam.ParDo(_ReadMediaFn(spec, self.roots, self.read.max_id_chars)).with_outputs(
                REJECTED, main="examples"
            )
        )
        # Also spreads a shard's or table's examples over the workers (a shuffle by example).
        unique = read.examples | "UniqueIds" >> UniqueIds()
        processed = unique["examples"] | "Process" >> beam.ParDo(
            _ProcessFn(self.source.modality, self.media, self.tokenizer_proto, self.max_seq_len)
        ).with_outputs(REJECTED, main="results")
        rejected = (
            read[REJECTED],
            unique["rejected"] | "DuplicateIdsWithoutMedia" >> beam.Map(_rejection_without_media),
            processed[REJECTED],
        ) | "Rejected" >> beam.Flatten()
        inputs = (
            read.examples | "InputExamples" >> beam.MapTuple(lambda _, e: _without_media(e)),
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
        read: ReadConfig | None = None,
    ) -> None:
        super().__init__()
        self.process = ProcessMediaSource(
            source, media, base_dir, tokenizer_proto, max_seq_len, patterns, read
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


def _rejection_without_media(rejection: Rejection) -> Rejection:
    return Rejection(
        _without_media(rejection.example), rejection.stage, rejection.reason, rejection.detail
    )


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
