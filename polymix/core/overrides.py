"""`key=value` overrides: one parser for the pipeline's config, the trainer's keys and the
model presets, so `1e6`, `1_000_000`, `true` or `off` mean the same on every command line.

Typed fields (the trainer's and the model's dataclasses) parse the text into the type of
the value they replace. The pipeline's schema takes YAML scalars (`0.7`, `[a, b]`,
`null`) at a dotted path into the config as written, then validates the whole config, so
a bad key or value is reported exactly like one in the file.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import yaml

from polymix.core.errors import UserFacingError

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class OverrideError(UserFacingError, ValueError):
    """An override that is not `key=value`, or a value its field cannot hold; names both."""


def split_override(item: str) -> tuple[str, str]:
    """`"key=value"` as (key, text); the text may itself hold `=`."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise OverrideError(f"override {item!r} is not key=value")
    return key.strip(), text


def _integer(text: str) -> int:
    cleaned = text.strip().replace("_", "")
    try:
        return int(cleaned)
    except ValueError:
        pass
    number = float(cleaned)  # "1e6"; a ValueError names the text
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"not an integer: {text!r}")
    return int(number)


def parse_value(text: str, current: Any) -> Any:
    """The override's text as the type of the field's current value."""
    if isinstance(current, bool):
        low = text.strip().lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise ValueError(
            f"not a boolean: {text!r} (use one of {', '.join(TRUE_WORDS + FALSE_WORDS)})"
        )
    if isinstance(current, int):
        return _integer(text)
    if isinstance(current, float):
        return float(text)
    return text


def _child(node: Any, part: str, key: str) -> Any:
    """A mapping's entry, or the entry of a list of named mappings (`sources.web`)."""
    if isinstance(node, dict):
        return node.setdefault(part, {})
    if isinstance(node, list):
        for entry in node:
            if isinstance(entry, dict) and entry.get("name") == part:
                return entry
        names = [e.get("name") for e in node if isinstance(e, dict)]
        raise OverrideError(f"{key}: no entry named {part!r} (entries: {names})")
    raise OverrideError(f"{key}: {part!r} is inside a value, not a section")


def apply_to_mapping(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of a config as written with each `dotted.key=yaml` set; validation follows."""
    result = copy.deepcopy(raw)
    for item in overrides:
        key, text = split_override(item)
        *parents, leaf = key.split(".")
        node: Any = result
        for part in parents:
            node = _child(node, part, key)
        if not isinstance(node, dict):
            raise OverrideError(f"{key}: {leaf!r} must name a key of a section")
        try:
            node[leaf] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise OverrideError(f"{key}={text!r}: not a YAML value ({exc.problem})") from None
    return result
