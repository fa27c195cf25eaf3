"""User stages: a class implementing `Stage`, imported by path or through an entry point.

The config names a user stage (`filters.plugins.<name>.class: "module:Class"`), or an installed
distribution registers one under the `polymix.stages` entry point group; either way the class is
imported here, where stages are built (the launcher builds them to read their cuts, each worker
in `setup`), never while the config is validated. Every way this can go wrong is a user's
mistake and gets one line naming the stage: the import fails, the class is not a `Stage`, its
options do not fit its constructor, or its `name` is not the name it is configured under (that
name is its folder in `rejected/<source>/<name>/`, so the two must agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from polymix.core.errors import UserFacingError
from polymix.core.stages import ENTRY_POINT_GROUP, entry_point_stages
from polymix.transforms.filters.base import Cut, Stage

REQUIRED = ("name", "cuts", "tag", "decide")


class PluginError(UserFacingError):
    """A user stage that cannot be imported or built."""


def _import(where: str, path: str) -> type:
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as exc:  # noqa: BLE001  (whatever the user's module raises while importing)
        raise PluginError(f"{where}: cannot import {path} ({type(exc).__name__}: {exc})") from None
    return target


def import_path(name: str, settings: Any) -> tuple[str, str]:
    """(where the path was given, `module:Class`) for user stage `name`."""
    path = getattr(settings, "import_path", None)
    if path:
        return f"filters.plugins.{name}.class", path
    installed = entry_point_stages()
    if name not in installed:
        raise PluginError(
            f"stage {name!r}: no class in filters.plugins.{name} and no {ENTRY_POINT_GROUP!r} "
            "entry point of that name is installed"
        )
    where = f"stage {name!r} (entry point {ENTRY_POINT_GROUP})"
    if len(installed[name]) > 1:
        raise PluginError(
            f"{where}: installed packages register it as {' and '.join(installed[name])}; "
            f"name one in filters.plugins.{name}.class"
        )
    return where, installed[name][0]


def _checked(stage: Any, name: str, where: str, path: str) -> Stage:
    missing = [attribute for attribute in REQUIRED if not hasattr(stage, attribute)]
    if missing:
        raise PluginError(f"{where}: {path} is not a polymix Stage: it lacks {', '.join(missing)}")
    not_callable = [m for m in ("tag", "decide") if not callable(getattr(stage, m))]
    if not_callable:
        raise PluginError(f"{where}: {path}.{not_callable[0]} must be a method")
    if stage.name != name:
        raise PluginError(
            f"{where}: {path} calls itself {stage.name!r} but is configured as {name!r}; "
            "use one name (it is the stage's folder under rejected/)"
        )
    cuts = stage.cuts
    if not isinstance(cuts, tuple | list) or not all(isinstance(c, Cut) for c in cuts):
        raise PluginError(f"{where}: {path}.cuts must be a tuple of polymix Cut")
    return stage


def build_plugin(name: str, settings: Any) -> Stage:
    """The user stage `name`, constructed with its options (keyword arguments)."""
    where, path = import_path(name, settings)
    stage_class = _import(where, path)
    options: Mapping[str, Any] = getattr(settings, "options", None) or {}
    if not callable(stage_class):
        raise PluginError(f"{where}: {path} is not a class")
    try:
        stage = stage_class(**options)
    except TypeError as exc:
        raise PluginError(
            f"filters.plugins.{name}.options: {path} does not take them ({exc})"
        ) from None
    return _checked(stage, name, where, path)
