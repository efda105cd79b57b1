"""The simulator package's import graph: no import circle, nothing from app/ or optimizer/,
and no module over the size limit (docs/simulator.md, "Package layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import simulator

ROOT = Path(simulator.__file__).parent
MAX_LINES = 450
"""Largest module [lines]."""


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (``__init__`` as the
    package)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every absolute import of ``path``, module top and function bodies alike; ``from a
    import b`` counts as importing ``a.b`` when that is a module, else ``a``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_planted_circle() -> None:
    """The checker itself: a -> b -> c -> a is found, a chain is not."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_simulator_has_no_import_circle_and_no_app_or_optimizer_import() -> None:
    """Over every module (function-local imports included) the graph of imports inside the
    package is acyclic, and no module imports app or optimizer."""
    modules = _modules()
    imports = {name: _imports(path, modules) for name, path in modules.items()}
    outside = sorted(
        (name, imp)
        for name, found in imports.items()
        for imp in found
        if imp.split(".")[0] in ("app", "optimizer")
    )
    assert outside == []
    graph = {
        name: {imp for imp in found if imp in modules} - {name} for name, found in imports.items()
    }
    assert _cycle(graph) is None


def test_no_module_over_the_size_limit() -> None:
    """Every module is at most MAX_LINES lines."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
