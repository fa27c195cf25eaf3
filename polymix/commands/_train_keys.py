"""The `key=value` table of `polymix train --help`, read from `TrainConfig` itself.

Each key's meaning is the comment on its line in `trainer/config.py` or, failing that, the
comment block right above it, so a new key documents itself where it is declared and the
help can never list a key that does not exist or miss one that does.
"""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import tokenize
from typing import Any

MODEL_FIELD = "model_overrides"  # set as `model.<field>=value`, not by its own name


def field_comments(cls: type) -> dict[str, str]:
    """Field name -> its comment, one line, from the source of the class and its bases."""
    from pydantic import BaseModel

    meanings: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, BaseModel) and klass.__module__ != BaseModel.__module__:
            meanings |= _own_comments(klass)
    return {name: meanings.get(name, "") for name in getattr(cls, "model_fields", meanings)}


def _own_comments(cls: type) -> dict[str, str]:
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    meanings: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        trailing = [comments[n] for n in range(node.lineno, node.end_lineno + 1) if n in comments]
        above: list[str] = []
        number = node.lineno - 1
        while number in comments and lines[number - 1].lstrip().startswith("#"):
            above.insert(0, comments[number])
            number -= 1
        meanings[node.target.id] = " ".join(trailing or above)
    return meanings


def typed_default(value: Any) -> str:
    """A default as one would type it after `key=`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def keys_help(width: int = 100) -> str:
    """The epilog: every TrainConfig key with its default and meaning."""
    from polymix.trainer.config import RESUMABLE, TrainConfig

    meanings = field_comments(TrainConfig)
    rows = []
    for name, default in TrainConfig.defaults().items():
        if name == MODEL_FIELD:
            setting = "model.<field>=value"
            meaning = f"a model preset field (repeatable; kept as {MODEL_FIELD})"
        else:
            setting = f"{name}={typed_default(default)}"
            meaning = meanings.get(name, "")
            if name in RESUMABLE:
                meaning += " [may change on --resume]"
        rows.append((setting, meaning.strip()))
    column = max(len(setting) for setting, _ in rows) + 2
    lines = ["trainer keys (key=value after the other arguments; shown with defaults):"]
    for setting, meaning in rows:
        wrapped = textwrap.wrap(meaning, max(30, width - column - 2)) or [""]
        lines.append(f"  {setting:<{column}}{wrapped[0]}".rstrip())
        lines.extend(f"  {'':<{column}}{more}" for more in wrapped[1:])
    return "\n".join(lines)
