"""Beam stage: the URL block list, right after reading (FineWeb and RefinedWeb's first filter).

Every example with a URL (a web archive's `web.url`, or `url_filter.url_field` of a JSONL
or Parquet record) is checked; a blocked one becomes `rejected/<source>/url_filter/<reason>`
(domain, url_substring, invalid_url) with what matched in its detail; the others pass
untouched, as does every example without a URL.

Size: the lists are files the launcher stages like models (`pipelines.model_files`: small
ones travel in the job, large ones through temp_location or gs://) and each worker process
loads once (`apache_beam.utils.shared`), so a UT1-sized list (~5x10^6 entries, ~0.5 GB in
memory) is held once per worker process, not per thread, and never grows with the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from polymix.core.config.web import UrlFilterConfig
from polymix.core.errors import UserFacingError
from polymix.pipelines.file_io import read_bytes
from polymix.pipelines.model_files import (
    ModelFile,
    local_copy,
    placement_from_options,
    stage_model,
)
from polymix.transforms.example import Example, Rejection
from polymix.transforms.web.url_filter import STAGE, BlockList, BlockListError, list_entries

REJECTED = "rejected"
KEPT = "kept"


def url_of(example: Example, url_field: str) -> str | None:
    """The page's URL: the web archive's, else the record's `url_field`; None if neither."""
    url = example.attributes.get("web", {}).get("url") or example.original_field(url_field)
    return url if isinstance(url, str) and url.strip() else None


def load_block_list(
    domain_files: list[tuple[str, bytes]], substring_files: list[tuple[str, bytes]]
) -> BlockList:
    """A BlockList from (name, bytes) pairs; BlockListError names a bad file and line."""
    domains = [e for name, data in domain_files for e in list_entries(data, name)]
    substrings = [e for name, data in substring_files for e in list_entries(data, name)]
    return BlockList.of(domains, substrings)


def check_block_lists(config: UrlFilterConfig, resolve: Callable[[str], str]) -> BlockList:
    """Read every list the config names now, so a missing or bad file fails at launch."""

    def files(key: str, paths: list[str]) -> list[tuple[str, bytes]]:
        loaded = []
        for i, path in enumerate(paths):
            try:
                loaded.append((path, read_bytes(resolve(path))))
            except Exception as exc:  # noqa: BLE001  (missing, unreadable: one line)
                raise UserFacingError(f"url_filter.{key}[{i}]: {resolve(path)}: {exc}") from None
        return loaded

    try:
        return load_block_list(
            files("blocked_domains", config.blocked_domains),
            files("blocked_url_substrings", config.blocked_url_substrings),
        )
    except BlockListError as exc:
        raise UserFacingError(f"url_filter: {exc}") from None


class _Loaded:
    """A weak-referenceable holder, as `shared.Shared` requires."""

    def __init__(self, block_list: BlockList) -> None:
        self.block_list = block_list


class _UrlFilterFn(beam.DoFn):
    def __init__(self, url_field: str, domains: list[ModelFile], substrings: list[ModelFile]):
        self._url_field = url_field
        self._domains, self._substrings = domains, substrings
        self._shared = shared.Shared()
        self._block_list: BlockList | None = None

    def _load(self) -> _Loaded:
        def read(files: list[ModelFile]) -> list[tuple[str, bytes]]:
            return [(f.key, read_bytes(local_copy(f))) for f in files]

        return _Loaded(load_block_list(read(self._domains), read(self._substrings)))

    def setup(self) -> None:
        tag = ",".join(f.sha256 or f.uri or f.key for f in self._domains + self._substrings)
        self._block_list = self._shared.acquire(self._load, tag=tag).block_list

    def process(self, example: Example) -> Iterator[Any]:
        url = url_of(example, self._url_field)
        verdict = self._block_list.verdict(url) if url and self._block_list else None
        if verdict is None:
            yield example
            return
        reason, matched = verdict
        Metrics.counter(STAGE, reason).inc()
        tagged = example.tagged(url_filter={"reason": reason, "matched": matched})
        yield beam.pvalue.TaggedOutput(REJECTED, Rejection(tagged, STAGE, reason, matched))


class UrlFilter(beam.PTransform):
    """PCollection[Example] -> {"kept", "rejected"}; `resolve` makes config paths absolute."""

    def __init__(self, config: UrlFilterConfig, resolve: Callable[[str], str]) -> None:
        super().__init__()
        self._config = config
        self._resolve = resolve

    def expand(self, examples: beam.PCollection) -> dict[str, beam.PCollection]:
        check_block_lists(self._config, self._resolve)
        where = placement_from_options(examples.pipeline.options)

        def staged(key: str, paths: list[str]) -> list[ModelFile]:
            return [
                stage_model(f"url_filter.{key}[{i}]", self._resolve(p), where)
                for i, p in enumerate(paths)
            ]

        fn = _UrlFilterFn(
            self._config.url_field,
            staged("blocked_domains", self._config.blocked_domains),
            staged("blocked_url_substrings", self._config.blocked_url_substrings),
        )
        results = examples | "Block" >> beam.ParDo(fn).with_outputs(REJECTED, main=KEPT)
        return {KEPT: results[KEPT], REJECTED: results[REJECTED]}
