"""`polymix tag INPUT --output tags.jsonl`: why each document would be kept or rejected.

Runs the configured filter stages on a JSONL or Parquet file, without Beam and without writing
shards, and writes one line per document: its id, every stage's attributes (scores, detected
language), the first rejecting stage and reason, and every rule it fails (Dolma's `tag`). Stage
names are the ones used in config and in `rejected/<source>/<stage>/<reason>`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polymix.core.errors import UserFacingError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tag", help="score documents with the quality filters and explain each decision"
    )
    parser.add_argument("input", nargs="+", help="JSONL (.jsonl, .jsonl.gz, .jsonl.zst) or Parquet")
    parser.add_argument("--config", help="polymix YAML; its `filters` section is used")
    parser.add_argument(
        "--stages", help="comma-separated stages to run, in order (default: the config's list)"
    )
    parser.add_argument("--modality", choices=["text", "code"], default="text")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--id-field", default="id", help="field with the document id")
    parser.add_argument("--output", required=True, help="tags JSONL to write ('-' for stdout)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    filters = load_filters(args.config) if args.config else _default_filters()
    stages = _parse_stages(args.stages)
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if args.output != "-":
            out = stack.enter_context(open(args.output, "w", encoding="utf-8"))
        summary = tag_files(
            args.input,
            filters,
            out,
            stages=stages,
            modality=args.modality,
            text_field=args.text_field,
            id_field=args.id_field,
        )
    total = sum(summary.values())
    kept = summary.get(("kept", ""), 0)
    print(f"tagged {total} documents: {kept} kept, {total - kept} rejected", file=sys.stderr)
    for (stage, reason), n in sorted(summary.items()):
        if stage != "kept":
            print(f"  {stage}/{reason}: {n}", file=sys.stderr)
    return 0


def _default_filters() -> Any:
    from polymix.core.config.filters import FiltersConfig

    return FiltersConfig()


def load_filters(path: str) -> Any:
    """The `filters` section of a config file.

    A full polymix config (with `sources`) goes through the project loader; a file holding only a
    `filters:` mapping is validated on its own, so rule thresholds can be tried in isolation.
    """
    import yaml
    from pydantic import ValidationError

    from polymix.core.config.filters import FiltersConfig

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

        return with_resolved_models(load_config(path, read_bytes)).filters
    section = (raw or {}).get("filters", {}) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise UserFacingError(f"{path}: expected a mapping with a `filters` section")
    try:
        return FiltersConfig.model_validate(section)
    except ValidationError as exc:
        raise UserFacingError(f"{path}: filters section is invalid:\n{exc}") from None


def _parse_stages(text: str | None) -> list[str] | None:
    if not text:
        return None
    from polymix.core.config.filters import STAGE_NAMES

    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGE_NAMES]
    if unknown:
        raise UserFacingError(f"unknown stage(s) {unknown}; choose from {', '.join(STAGE_NAMES)}")
    return names


def _read(path: str, modality: str, text_field: str, id_field: str) -> Iterator[Any]:
    from polymix.transforms.read_text import TextSourceSpec, read_text_file

    fmt = "parquet" if path.endswith(".parquet") else "jsonl"
    spec = TextSourceSpec("tag", modality, fmt, text_field=text_field, id_field=id_field)
    if not Path(path).is_file():
        raise UserFacingError(f"input {path} does not exist")
    opener = lambda: open(path, "rb")  # noqa: E731, SIM115 (read_text_file closes it)
    yield from read_text_file(spec, opener, path, Path(path).name)


def tag_files(
    paths: list[str],
    filters: Any,
    out: Any,
    *,
    stages: list[str] | None = None,
    modality: str = "text",
    text_field: str = "text",
    id_field: str = "id",
) -> Counter[tuple[str, str]]:
    """Write one JSON line per input document; return counts per (stage, reason)."""
    from polymix.transforms.example import Rejection
    from polymix.transforms.filters import STAGE_CLASSES, load_models, run_stages
    from polymix.transforms.filters.fasttext_models import ModelNotFound
    from polymix.transforms.normalize import normalize_text

    names = stages if stages is not None else filters.stages_for(modality)
    built = [STAGE_CLASSES[n](filters.stage_config(n)) for n in names]
    try:
        load_models(built)
    except ModelNotFound as exc:
        raise UserFacingError(str(exc)) from None
    summary: Counter[tuple[str, str]] = Counter()
    for path in paths:
        for item in _read(path, modality, text_field, id_field):
            if isinstance(item, Rejection):
                record = {"id": item.example.id, "kept": False, "stage": item.stage}
                record |= {"reason": item.reason, "failures": [[item.stage, item.reason]]}
                record["attributes"] = {}
            else:
                # The pipeline filters normalized text; tag must judge the same text.
                verdict = run_stages(built, normalize_text(item.text or ""), explain_all=True)
                record = {
                    "id": item.id,
                    "kept": verdict.kept,
                    "stage": verdict.stage,
                    "reason": verdict.reason or None,
                    "failures": [list(f) for f in verdict.failures],
                    "attributes": verdict.attributes,
                }
            summary[(record["stage"] or "kept", record["reason"] or "")] += 1
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return summary
