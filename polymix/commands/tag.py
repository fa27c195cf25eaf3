"""`polymix tag INPUT --output tags.jsonl`: why each document would be kept or rejected.

Reads what `polymix run` reads (JSONL, Parquet, WARC/WET web archives), applies the config's
URL block list and runs the configured filter stages, without Beam and without writing
shards, and writes one line per document: its id (and URL for web pages), every stage's
attributes (scores, detected language, the page's domain and charset), the first rejecting
stage and reason, and every rule it fails (Dolma's `tag`). `--with-text` adds the text the
stages judged, so one can read what the HTML extractor kept. Stage names are the ones used
in config and in `rejected/<source>/<stage>/<reason>`; decontamination is a join over the
whole corpus and is not run here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polymix.commands._output import add_json_flag, print_json
from polymix.core.errors import UserFacingError

TEXT_FORMATS = ("jsonl", "csv", "text", "parquet", "hf_arrow", "warc")
# By a file's last suffix once Beam's compression suffix is taken off; anything else is JSONL.
FORMAT_BY_SUFFIX = {
    ".parquet": "parquet",
    ".arrow": "hf_arrow",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".md": "text",
    ".rst": "text",
    ".warc": "warc",
    ".wet": "warc",
    ".arc": "warc",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tag", help="score documents with the quality filters and explain each decision"
    )
    parser.add_argument(
        "input",
        nargs="+",
        help="JSONL, CSV (.csv, .tsv), text (.txt, .md, .rst), Parquet, Arrow or WARC/WET, "
        "plain or compressed (.gz, .bz2, .xz, .zst, ...)",
    )
    parser.add_argument("--config", help="polymix YAML; its `filters` and `url_filter` are used")
    parser.add_argument(
        "--source", help="read as this config source is read (format, fields, web settings)"
    )
    parser.add_argument("--format", choices=TEXT_FORMATS, help="default: by suffix")
    parser.add_argument(
        "--stages", help="comma-separated stages to run, in order (default: the config's list)"
    )
    parser.add_argument("--modality", choices=["text", "code"], default="text")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--id-field", default="id", help="field with the document id")
    parser.add_argument(
        "--with-text", action="store_true", help="write the text each document was judged on"
    )
    parser.add_argument("--output", required=True, help="tags JSONL to write ('-' for stdout)")
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


@dataclass
class TagSettings:
    """What `tag` takes from a config file (everything defaults when there is none)."""

    filters: Any
    url_filter: Any = None
    sources: dict[str, Any] = field(default_factory=dict)
    resolve: Callable[[str], str] = str


def handle(args: argparse.Namespace) -> int:
    if args.json and args.output == "-":
        raise UserFacingError("--json prints the summary on stdout; write the tags to a file")
    settings = load_settings(args.config) if args.config else TagSettings(_default_filters())
    stages = _parse_stages(args.stages, settings.filters)
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if args.output != "-":
            out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
        summary = tag_files(
            args.input,
            settings.filters,
            out,
            stages=stages,
            modality=args.modality,
            text_field=args.text_field,
            id_field=args.id_field,
            fmt=args.format,
            source=_source(settings, args.source),
            block_list=_block_list(settings),
            url_field=settings.url_filter.url_field if settings.url_filter else "url",
            with_text=args.with_text,
        )
    total = sum(summary.values())
    kept = summary.get(("kept", ""), 0)
    rejected = {f"{s}/{r}": n for (s, r), n in sorted(summary.items()) if s != "kept"}
    if args.json:
        print_json({"documents": total, "kept": kept, "rejected": rejected})
        return 0
    print(f"tagged {total} documents: {kept} kept, {total - kept} rejected", file=sys.stderr)
    for reason, n in rejected.items():
        print(f"  {reason}: {n}", file=sys.stderr)
    return 0


def _default_filters() -> Any:
    from polymix.core.config.filters import FiltersConfig

    return FiltersConfig()


def _source(settings: TagSettings, name: str | None) -> Any:
    if name is None:
        return None
    if name not in settings.sources:
        known = ", ".join(sorted(settings.sources)) or "none (pass a full config)"
        raise UserFacingError(f"--source {name}: no such source in the config; sources: {known}")
    return settings.sources[name]


def _block_list(settings: TagSettings) -> Any:
    if settings.url_filter is None or not settings.url_filter.enabled:
        return None
    from polymix.pipelines.url_filter import check_block_lists

    return check_block_lists(settings.url_filter, settings.resolve)


def load_filters(path: str) -> Any:
    """The `filters` section of a config file (see `load_settings`)."""
    return load_settings(path).filters


def _validated(model: Any, section: Any, path: str, name: str) -> Any:
    from pydantic import ValidationError

    if not isinstance(section, dict):
        raise UserFacingError(f"{path}: `{name}` must be a mapping")
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        raise UserFacingError(f"{path}: {name} section is invalid:\n{exc}") from None


def load_settings(path: str) -> TagSettings:
    """The `filters` and `url_filter` sections (and sources) of a config file.

    A full polymix config (with `sources`) goes through the project loader; a file holding only
    `filters:` and `url_filter:` mappings is validated on its own, so rule thresholds and block
    lists can be tried in isolation. Paths are relative to the file, as in `polymix run`.
    """
    import yaml

    from polymix.core.config.filters import FiltersConfig
    from polymix.core.config.web import UrlFilterConfig

    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserFacingError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise UserFacingError(f"{path} is not valid YAML: {exc}") from None
    if isinstance(raw, dict) and "sources" in raw:
        from polymix.core.config import load_config
        from polymix.corpus_run import with_resolved_models
        from polymix.pipelines.file_io import read_bytes

        config = with_resolved_models(load_config(path, read_bytes))
        sources = {s.name: s for s in config.sources}
        return TagSettings(config.filters, config.url_filter, sources, config.resolve)
    if not isinstance(raw, dict) or not ({"filters", "url_filter"} & set(raw)):
        raise UserFacingError(f"{path}: expected a mapping with a `filters` section")
    base = Path(path).resolve().parent
    return TagSettings(
        _validated(FiltersConfig, raw.get("filters") or {}, path, "filters"),
        _validated(UrlFilterConfig, raw.get("url_filter") or {}, path, "url_filter"),
        resolve=lambda p: p if "://" in p or Path(p).is_absolute() else str(base / p),
    )


def _parse_stages(text: str | None, filters: Any) -> list[str] | None:
    if not text:
        return None
    from polymix.core.stages import unknown_stage

    names = [s.strip() for s in text.split(",") if s.strip()]
    problem = unknown_stage("--stages", names, filters.plugins)
    if problem:
        raise UserFacingError(problem)
    return names


def format_of(path: str) -> str:
    from polymix.transforms.decompress import SUFFIXES

    name = Path(path).name.lower()
    for compression in SUFFIXES:
        name = name.removesuffix(compression)
    return FORMAT_BY_SUFFIX.get(Path(name).suffix, "jsonl")


def _spec(path: str, fmt: str | None, source: Any, modality: str, text_field: str, id_field: str):
    from polymix.transforms.read_text import TextSourceSpec

    if source is not None:
        return TextSourceSpec(
            "tag",
            source.modality,
            fmt or source.format,
            source.text_field,
            source.id_field,
            delimiter=source.delimiter,
            web=source.web if source.format == "warc" else None,
        )
    fmt = fmt or format_of(path)
    delimiter = "\t" if fmt == "csv" and ".tsv" in Path(path).name.lower() else ","
    return TextSourceSpec("tag", modality, fmt, text_field, id_field, delimiter=delimiter)


def _read(path: str, spec: Any) -> Iterator[Any]:
    from polymix.transforms.read_text import read_text_file

    if not Path(path).is_file():
        raise UserFacingError(f"input {path} does not exist")
    opener = lambda: open(path, "rb")  # noqa: E731, SIM115 (read_text_file closes it)
    yield from read_text_file(spec, opener, path, Path(path).name)


def _rejected_row(item: Any) -> dict[str, Any]:
    row = {"id": item.example.id, "kept": False, "stage": item.stage, "reason": item.reason}
    row |= {"failures": [[item.stage, item.reason]], "attributes": item.example.attributes}
    return row


def _judged_row(example: Any, built: list[Any], block_list: Any, url_field: str):
    """The row for a document that was read, and the text its stages judged."""
    from polymix.core.config.text import NormalizeConfig
    from polymix.pipelines.url_filter import url_of
    from polymix.transforms.filters import run_stages
    from polymix.transforms.normalize import normalize_source_text

    url = url_of(example, url_field)
    blocked = block_list.verdict(url) if block_list is not None and url else None
    if blocked is not None:
        row = {"id": example.id, "kept": False, "stage": "url_filter", "reason": blocked[0]}
        attributes = {**example.attributes, "url_filter": {"matched": blocked[1]}}
        return row | {"failures": [["url_filter", blocked[0]]], "attributes": attributes}, None
    # The pipeline filters normalized text; tag must judge the same text.
    text = normalize_source_text(example.text or "", NormalizeConfig(), example.modality)
    verdict = run_stages(built, text, explain_all=True)
    row = {"id": example.id, "kept": verdict.kept, "stage": verdict.stage}
    row |= {"reason": verdict.reason or None, "failures": [list(f) for f in verdict.failures]}
    row["attributes"] = {**example.attributes, **verdict.attributes}
    return row, text


def tag_files(
    paths: list[str],
    filters: Any,
    out: Any,
    *,
    stages: list[str] | None = None,
    modality: str = "text",
    text_field: str = "text",
    id_field: str = "id",
    fmt: str | None = None,
    source: Any = None,
    block_list: Any = None,
    url_field: str = "url",
    with_text: bool = False,
) -> Counter[tuple[str, str]]:
    """Write one JSON line per input document; return counts per (stage, reason)."""
    from polymix.pipelines.url_filter import url_of
    from polymix.transforms.example import Rejection
    from polymix.transforms.filters import build_named_stages, load_models
    from polymix.transforms.filters.fasttext_models import ModelNotFound

    modality = source.modality if source is not None else modality
    names = stages if stages is not None else filters.stages_for(modality)
    built = build_named_stages(filters, names)
    try:
        load_models(built)
    except ModelNotFound as exc:
        raise UserFacingError(str(exc)) from None
    summary: Counter[tuple[str, str]] = Counter()
    for path in paths:
        spec = _spec(path, fmt, source, modality, text_field, id_field)
        for item in _read(path, spec):
            example = item.example if isinstance(item, Rejection) else item
            if isinstance(item, Rejection):
                record, text = _rejected_row(item), None
            else:
                record, text = _judged_row(item, built, block_list, url_field)
            url = url_of(example, url_field)
            if url:
                record["url"] = url
            if with_text:
                record["text"] = text
            summary[(record["stage"] or "kept", record["reason"] or "")] += 1
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return summary
