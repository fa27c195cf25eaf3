"""Imports only run downwards: core < transforms/model < pipelines/trainer < report/run < commands < cli.

A module that imports a higher floor drags that floor's dependencies (Beam, JAX) and its
import-time side effects into every user of the lower one, and a cycle makes the order
in which packages load decide whether the program starts. Every import is parsed with
`ast`, including those inside functions, since a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "polymix"

# Lowest first. Units on one floor may import each other, but never both ways.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("polymix.core",),
    ("polymix.transforms", "polymix.model"),
    ("polymix.pipelines", "polymix.trainer", "polymix.sample"),
    (
        "polymix.ablation",
        "polymix.report",
        "polymix.corpus_run",
        "polymix.run_output",
        "polymix.slot_deletion",
        "polymix.run_lock",
        "polymix.progress",
        "polymix.live_counters",
        "polymix.launch_checks",
    ),
    ("polymix.commands", "polymix.api"),
    ("polymix.cli",),
)
GRAIN_COMPAT = "polymix.trainer.grain_compat"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path, ast.parse(path.read_text(), filename=str(path))


def imported_names(module: str, path: Path, tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """(line, imported module, imported name or "") for every import, resolving relative ones."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, base, alias.name


def unit_of(module: str) -> str | None:
    """The longest FLOORS prefix that owns `module`."""
    owners = [
        unit
        for floor in FLOORS
        for unit in floor
        if module == unit or module.startswith(unit + ".")
    ]
    return max(owners, key=len) if owners else None


def floor_of(unit: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if unit in floor)


def target_unit(base: str, name: str) -> str | None:
    """The unit `from base import name` reaches (`from polymix import cli` reaches polymix.cli)."""
    if base == "polymix" and name:
        return unit_of(f"polymix.{name}")
    return unit_of(base)


def arrows() -> Iterator[tuple[str, str, str, str]]:
    """(importer unit, imported unit, "file:line", import text) for polymix-internal imports."""
    for module, path, tree in modules():
        source = unit_of(module)
        for line, base, name in imported_names(module, path, tree):
            if base != "polymix" and not base.startswith("polymix."):
                continue
            target = target_unit(base, name)
            where = f"{path.relative_to(ROOT)}:{line}"
            text = f"from {base} import {name}" if name else f"import {base}"
            yield source or module, target or base, where, text


def test_every_module_has_a_floor():
    unplaced = [m for m, _, _ in modules() if m != "polymix" and unit_of(m) is None]
    assert not unplaced, f"add these modules to FLOORS: {unplaced}"


def test_imports_only_run_downwards():
    upward = [
        f"{where}: {text} ({source} is below {target})"
        for source, target, where, text in arrows()
        if unit_of(source) and unit_of(target) and floor_of(source) < floor_of(target)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_cycle_between_units_of_one_floor():
    seen: dict[tuple[str, str], str] = {}
    for source, target, where, text in arrows():
        if source != target and unit_of(source) and unit_of(target):
            seen.setdefault((source, target), f"{where}: {text}")
    cycles = [
        f"{seen[(a, b)]}  <->  {seen[(b, a)]}"
        for (a, b) in sorted(seen)
        if a < b and (b, a) in seen
    ]
    assert not cycles, "cycles:\n" + "\n".join(cycles)


def private_grain_imports() -> Iterator[str]:
    """Private grain names: they change without notice, so one module owns them all."""
    for module, path, tree in modules():
        if module == GRAIN_COMPAT:
            continue
        for line, base, name in imported_names(module, path, tree):
            if base != "grain" and not base.startswith("grain."):
                continue
            if any(part.startswith("_") for part in [*base.split("."), name] if part):
                where = f"{path.relative_to(ROOT)}:{line}"
                yield f"{where}: " + (f"from {base} import {name}" if name else f"import {base}")
        inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            dotted = "" if id(node) in inner else dotted_name(node)
            if dotted.startswith("grain.") and any(p.startswith("_") for p in dotted.split(".")):
                yield f"{path.relative_to(ROOT)}:{node.lineno}: {dotted}"


def dotted_name(node: ast.AST) -> str:
    """`grain._src.x` for that attribute chain; "" for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not parts or not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def test_private_grain_names_live_in_one_module():
    private = list(private_grain_imports())
    assert not private, f"move these behind {GRAIN_COMPAT}:\n" + "\n".join(private)


def test_the_checker_sees_function_level_and_relative_imports():
    tree = ast.parse("def f():\n    from ..cli import main\n    import grain._src.x\n")
    path = PACKAGE / "commands" / "demo.py"
    found = list(imported_names("polymix.commands.demo", path, tree))
    assert found == [(2, "polymix.cli", "main"), (3, "grain._src.x", "")]


def module_arrows() -> dict[str, set[str]]:
    """Module -> the polymix modules it imports (a package's `__init__` counts as a module)."""
    known = {module for module, _, _ in modules()}
    graph: dict[str, set[str]] = {module: set() for module in known}
    for module, path, tree in modules():
        for _, base, name in imported_names(module, path, tree):
            target = f"{base}.{name}" if f"{base}.{name}" in known else base
            if target in known and target != module:
                graph[module].add(target)
    return graph


def cycles_of(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycle_between_modules():
    """A package face (`__init__`) re-exporting its modules is the one allowed loop-back:
    its modules must not import it."""
    cycles = cycles_of(module_arrows())
    assert not cycles, "import cycles between modules:\n" + "\n".join(map(str, cycles))


def test_the_cycle_finder_finds_a_loop_of_three():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles_of(graph) == [["a", "b", "c"]]
