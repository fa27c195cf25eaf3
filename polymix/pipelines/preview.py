"""The first inputs of a source, read on the launcher with the pipeline's own readers.

What a run would make of a source's first few files, before the run: the first
`SAMPLE_FILES` files over all its globs in sorted path order, and the first
`SAMPLE_RECORDS` inputs of each (examples or rejections, exactly as the run's reader
yields them: the text readers of `transforms/read_text.py`, the media readers of
`transforms/media/read.py`; media as one file each are not read, since any bytes are a
file until they are decoded). Bounded whatever the corpus: a local glob is listed whole
and sorted here (a folder listing, as the run's match does anyway); an object store
lists names in order, so only `SAMPLE_FILES` per glob are fetched. Reading stops after
`SAMPLE_RECORDS` inputs a file, each bounded by `read.*`. What is kept of each input is
slim (`slim`): a text only as empty or not, records only as their field names a few
levels deep, details cut to `DETAIL_CHARS`, so the sample of a source holds a few KiB
per input whatever its lines hold (up to `read.max_line_bytes` each), and reading it
holds one input at a time.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystems import FileSystems

from polymix.core.config import Config, SourceConfig
from polymix.pipelines.media import source_spec
from polymix.pipelines.read import SourceRoots, open_raw, text_spec
from polymix.transforms.example import Example, Rejection
from polymix.transforms.media.read import read_media_parquet, read_webdataset
from polymix.transforms.read_text import read_text_file

SAMPLE_FILES = 3
SAMPLE_RECORDS = 20
MEDIA_MODALITIES = ("image", "audio", "video")
DETAIL_CHARS = 1000
SKELETON_DEPTH = 3
SKELETON_KEYS = 100


def _skeleton(value: Any, depth: int = 0) -> Any:
    """Only the keys of nested objects (at most `SKELETON_KEYS` each); other values None."""
    if not isinstance(value, dict) or depth >= SKELETON_DEPTH:
        return None
    keys = itertools.islice(value.items(), SKELETON_KEYS)
    return {key: _skeleton(inner, depth + 1) for key, inner in keys}


def slim(item: Example | Rejection) -> Example | Rejection:
    """What the launch checks need of an input, in a few KiB: whether its text is empty,
    its fields' names, its reason and the start of its detail."""
    if isinstance(item, Example):
        text = "x" if (item.text or "").strip() else ""
        original = json.dumps(_skeleton(item.original_object()))
        return item.replace(text=text, original=original, media=None)
    original = item.example.original_object()
    if isinstance(original, dict) and "raw" in original:
        original = {"raw": _skeleton(original["raw"])}
    else:
        original = {}
    example = item.example.replace(text=None, original=json.dumps(original), media=None)
    return Rejection(example, item.stage, item.reason, item.detail[:DETAIL_CHARS])


@dataclass(frozen=True)
class Sample:
    """What the first files of a source gave: their paths and ids, and their first inputs."""

    paths: list[str]
    file_ids: list[str]
    items: list[Example | Rejection]


def first_files(patterns: list[str], count: int = SAMPLE_FILES) -> list[str]:
    """The first `count` files the globs match, in sorted path order."""
    found: set[str] = set()
    for pattern in patterns:
        limit = None if FileSystems.get_scheme(pattern) is None else count
        found.update(m.path for m in FileSystems.match([pattern], limits=[limit])[0].metadata_list)
    return sorted(found)[:count]


def _media_items(
    source: SourceConfig, config: Config, path: str, fid: str
) -> Iterator[Example | Rejection]:
    spec = source_spec(source, config.media)
    if spec.format == "files":  # any bytes are a file: reading one whole proves nothing
        return
    reader = read_webdataset if spec.format == "webdataset" else read_media_parquet
    with open_raw(path) as handle:
        yield from reader(spec, handle, path, fid)


def _items(
    source: SourceConfig, config: Config, path: str, fid: str
) -> Iterator[Example | Rejection]:
    if source.modality in MEDIA_MODALITIES:
        return _media_items(source, config, path, fid)
    spec = text_spec(source, config.read)
    return read_text_file(spec, functools.partial(open_raw, path), path, fid)


def sample_source(
    source: SourceConfig, config: Config, patterns: list[str] | None = None
) -> Sample:
    """The source's first inputs; `patterns` default to its paths, resolved."""
    root_patterns = [config.resolve(p) for p in source.paths]
    roots = SourceRoots(root_patterns)
    files = first_files(patterns or root_patterns)
    items: list[Example | Rejection] = []
    for path in files:
        with contextlib.closing(_items(source, config, path, roots.file_id(path))) as inputs:
            items += map(slim, itertools.islice(inputs, SAMPLE_RECORDS))
    return Sample(files, [roots.file_id(p) for p in files], items)
