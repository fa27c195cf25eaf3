"""One stage registry: every name the package files work under is in it, and config obeys it."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from polymix.core import stages as registry
from polymix.core.config import ConfigError, parse_config
from polymix.core.config.filters import FiltersConfig, StagesConfig

PACKAGE = Path(__file__).resolve().parents[2] / "polymix"
# Module constants that hold a stage name (`STAGE = "normalize"`, `DECODE = "decode"`, ...).
STAGE_CONSTANTS = {"DECODE", "FILTER", "TOKENIZE", "EXACT", "PHASH", "READ", "EXTRACT"}
# Calls whose second argument is the stage an example is filed under.
FILING_CALLS = {"Rejection", "Duplicate", "failed"}
# `IsolatedDoFn.stage`'s placeholder: every subclass sets its own (checked below).
PLACEHOLDER = "unknown"


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _named_stage(name: str) -> bool:
    return name == "stage" or name.upper().endswith("STAGE") or name in STAGE_CONSTANTS


def _assigned(node: ast.Assign) -> Iterator[ast.AST]:
    """The values assigned to a stage-named target, tuple unpacking included."""
    for target in node.targets:
        if isinstance(target, ast.Name) and _named_stage(target.id):
            yield node.value
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            for name, value in zip(target.elts, node.value.elts, strict=False):
                if isinstance(name, ast.Name) and _named_stage(name.id):
                    yield value


def _filed(node: ast.AST) -> Iterator[ast.AST]:
    if isinstance(node, ast.Assign):
        yield from _assigned(node)
    elif isinstance(node, ast.Call):
        yield from (k.value for k in node.keywords if k.arg == "stage")
        callee = node.func.id if isinstance(node.func, ast.Name) else ""
        if callee in FILING_CALLS and len(node.args) > 1:
            yield node.args[1]
    elif isinstance(node, ast.Dict):  # a row written with its stage (`polymix tag`)
        yield from (
            v for k, v in zip(node.keys, node.values, strict=True) if _literal(k) == "stage"
        )
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        params = node.args.kwonlyargs
        yield from (
            d for a, d in zip(params, node.args.kw_defaults, strict=True) if a.arg == "stage"
        )


def stage_literals() -> Iterator[tuple[str, str]]:
    """("file:line", name) for every stage name written as a literal in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            for value in _filed(node):
                name = _literal(value)
                if name is not None:
                    yield f"{path.relative_to(PACKAGE.parent)}:{value.lineno}", name


def test_every_stage_name_the_package_files_under_is_in_the_registry():
    found = list(stage_literals())
    names = {name for _, name in found}
    # The scanner sees each kind of site: constants, tuples, keywords, Rejection(...) calls.
    assert {"decode", "media_filter", "extract", "phash_dedup", "near_dedup", "read"} <= names
    stray = [f"{where}: {name!r}" for where, name in found if name not in registry.PIPELINE_STAGES]
    assert stray == [f"polymix/pipelines/isolation.py:34: {PLACEHOLDER!r}"], "\n".join(stray)


def test_the_scanner_catches_a_name_missing_from_the_registry(tmp_path, monkeypatch):
    module = tmp_path / "polymix" / "pipelines" / "new_stage.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        'def f(x):\n    return Rejection(x, "sharpen", "blurry")\n\n'
        'def g(x):\n    return {"id": x, "stage": "blur"}\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "polymix")
    assert list(stage_literals()) == [
        ("polymix/pipelines/new_stage.py:2", "sharpen"),
        ("polymix/pipelines/new_stage.py:5", "blur"),
    ]


def test_the_built_in_filter_stages_are_the_registrys():
    from polymix.transforms.filters import STAGE_CLASSES

    assert tuple(STAGE_CLASSES) == registry.FILTER_STAGES
    assert {name: cls.name for name, cls in STAGE_CLASSES.items() if cls.name != name} == {}
    defaults = StagesConfig()
    assert set(defaults.text + defaults.code) <= set(registry.FILTER_STAGES)
    assert set(registry.FILTER_STAGES) <= set(registry.PIPELINE_STAGES)
    for name in registry.FILTER_STAGES:  # each has its config section
        assert FiltersConfig().stage_config(name) is not None


def test_every_isolated_stage_sets_a_registered_name():
    import polymix.pipelines.media  # noqa: F401  (defines its DoFns)
    import polymix.pipelines.normalize  # noqa: F401
    import polymix.pipelines.quality  # noqa: F401
    import polymix.pipelines.tokenize  # noqa: F401
    from polymix.pipelines.isolation import IsolatedDoFn

    subclasses = [c for c in IsolatedDoFn.__subclasses__() if c.__module__.startswith("polymix.")]
    assert len(subclasses) >= 4
    assert {
        c.__name__: c.stage for c in subclasses if c.stage not in registry.PIPELINE_STAGES
    } == {}


def _config(filters: dict):
    source = {"name": "web", "modality": "text", "paths": ["a.jsonl"], "format": "jsonl"}
    return parse_config({"sources": [source], "filters": filters})


def test_an_unknown_stage_is_one_line_naming_it_and_the_choices():
    with pytest.raises(ConfigError) as caught:
        _config({"stages": {"text": ["c4", "shoutng"]}, "plugins": {"shouting": {"class": "m:S"}}})
    (line,) = [line for line in str(caught.value).splitlines() if "unknown stage" in line]
    assert "filters.stages.text: unknown stage 'shoutng'; choose from language, " in line
    assert line.split("choose from ")[1].startswith(
        ", ".join(registry.FILTER_STAGES) + ", shouting"
    )


@pytest.mark.parametrize("name", ["tokenize", "c4", "Loud", "has-dash"])
def test_a_plugin_cannot_take_a_built_in_or_unusable_name(name):
    with pytest.raises(ConfigError, match="plugin stage name"):
        _config({"plugins": {name: {"class": "m:S"}}})


def test_a_plugins_class_and_options_are_part_of_the_config_hash():
    def fingerprint(plugin: dict) -> str:
        return _config(
            {"plugins": {"shouting": plugin}, "stages": {"text": ["shouting"]}}
        ).fingerprint()

    base = fingerprint({"class": "m:Shouting", "options": {"max_upper_ratio": 0.5}})
    assert base == fingerprint({"class": "m:Shouting", "options": {"max_upper_ratio": 0.5}})
    assert base != fingerprint({"class": "m:Shouting", "options": {"max_upper_ratio": 0.4}})
    assert base != fingerprint({"class": "m:Loud", "options": {"max_upper_ratio": 0.5}})
