"""`polymix init`: an example config generated from the schema itself.

Rendering from the field descriptions means the example can never document a key
that does not exist or miss one that does; a test loads it back.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

EXAMPLE_SOURCES: list[dict[str, Any]] = [
    {
        "name": "web",
        "modality": "text",
        "paths": ["data/web/*.jsonl.gz"],
        "format": "jsonl",
        "text_field": "text",
        "id_field": "id",
        "weight": 0.7,
    },
    {
        "name": "books",
        "modality": "text",
        "paths": ["data/books/*.parquet"],
        "format": "parquet",
        "text_field": "content",
        "weight": 0.3,
    },
]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, 88 - len(indent))] if text else []


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def render_model(
    model: type[BaseModel], values: dict[str, Any] | None, indent: str = ""
) -> list[str]:
    lines: list[str] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        lines += _comment(field.description or "", indent)
        if values is not None and name in values:
            value = values[name]
        elif field.default is not PydanticUndefined:
            value = field.default
        elif field.default_factory is not None:
            value = field.default_factory()
        else:
            value = None
        if _is_section(field.annotation):
            lines.append(f"{indent}{name}:")
            nested = value.model_dump() if isinstance(value, BaseModel) else value
            lines += render_model(field.annotation, nested, indent + "  ")
        elif name == "sources":
            from polymix.core.config.sources import SourceConfig

            lines.append(f"{indent}sources:")
            for entry in value or EXAMPLE_SOURCES:
                body = render_model(SourceConfig, entry, indent + "    ")
                first = next(i for i, line in enumerate(body) if not line.lstrip().startswith("#"))
                body[first] = f"{indent}  - " + body[first].lstrip()
                lines += body
        else:
            lines.append(f"{indent}{name}: {_scalar(value)}")
    return lines


def example_config_yaml() -> str:
    from polymix.core.config import Config

    header = [
        "# polymix config. Every key is shown with its default; relative paths are relative",
        "# to this file. Validate with `polymix run CONFIG --dry-run` (or just run it).",
        "",
    ]
    return "\n".join(header + render_model(Config, {"sources": EXAMPLE_SOURCES})) + "\n"
