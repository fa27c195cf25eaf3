"""The base of the trainer's and the model's configs: frozen pydantic models.

One config system for the pipeline, the trainer and the model presets: every config is a
pydantic model that refuses unknown keys and reports a bad value as one line naming the
key and the value. Frozen models hash and compare by value, so a model config can be a
`jax.jit` static argument and a dict key. `key=value` text goes through the one parser in
`core.overrides`, typed by the value the key replaces.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from polymix.core.errors import UserFacingError
from polymix.core.overrides import parse_value


def error_line(exc: ValidationError) -> str:
    """pydantic's report as one line: `key=value: why` per bad field, `why` for the whole."""
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        key = ".".join(str(part) for part in error["loc"])
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, UserFacingError):
            message = str(cause)  # already names its key and value
        elif error["type"] == "extra_forbidden":
            message = f"unknown key {key!r}"
        elif key:
            message = f"{key}={error['input']!r}: {message}"
        parts.append(message)
    return "; ".join(parts)


class FrozenConfig(BaseModel):
    """Immutable, validated on every construction and every `replace`."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())
    error: ClassVar[type[Exception]] = ValueError  # what a bad key or value raises
    unknown_key: ClassVar[type[Exception]] = KeyError  # what `with_overrides` raises for one
    label: ClassVar[str] = "field"  # how an unknown key's message names the kind of key

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise type(self).error(error_line(exc)) from None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The keys in declaration order."""
        return tuple(cls.model_fields)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each key's default, in declaration order."""
        return {name: field.default for name, field in cls.model_fields.items()}

    def to_dict(self) -> dict[str, Any]:
        """Field values as plain Python (what a checkpoint records as JSON)."""
        return self.model_dump(mode="python")

    def replace(self, **changes: Any) -> Any:
        """A copy with `changes`, validated like a new config (`model_copy` is not)."""
        return type(self)(**{**self.__dict__, **changes})

    def with_overrides(self, items: Iterable[tuple[str, Any]]) -> Any:
        """A copy with each (key, value) set; text values are parsed into the key's type."""
        known = self.field_names()
        changes: dict[str, Any] = {}
        for key, value in items:
            if key not in known:
                raise type(self).unknown_key(unknown_key_message(key, known, self.label))
            current = getattr(self, key)
            changes[key] = parse_value(value, current) if isinstance(value, str) else value
        return self.replace(**changes)


def unknown_key_message(key: str, known: Iterable[str], what: str = "field") -> str:
    """`unknown field 'x'; did you mean 'y'?` with the nearest known key, if any is close."""
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"unknown {what} {key!r}{hint}"


def known_fields(data: Mapping[str, Any], cls: type[FrozenConfig]) -> dict[str, Any]:
    """`data` without keys `cls` no longer has: a config recorded by an older version."""
    return {key: value for key, value in data.items() if key in cls.model_fields}
