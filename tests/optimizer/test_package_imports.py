"""Import structure of ``optimizer``: no import cycle between its modules (function-local
imports included) and no import of ``app`` or ``simulator`` (DESIGN.md, "Packages")."""

from __future__ import annotations

import ast
from pathlib import Path

import optimizer

ROOT = Path(optimizer.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(path: Path, name: str, is_package: bool) -> set[str]:
    """Every module name an ``import`` statement anywhere in the file names (for ``from x
    import y``: ``x.y`` when that is a module, else ``x``)."""
    known = _modules()
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _imports(p, m, p.name == "__init__.py") if i in mods}
            for m, p in mods.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)) is not None:
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The checker itself: a -> b -> c -> a is reported, a DAG is not."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_inside_optimizer() -> None:
    """No chain of imports between optimizer modules leads back to its start; in particular
    ``optimizer.suggest`` and ``optimizer.methods`` do not import each other."""
    graph = _graph()
    assert "optimizer.context" in graph["optimizer.methods.cfmesmo"]
    assert _cycle(graph) is None, _cycle(graph)
    assert not any(m.startswith("optimizer.suggest") for n, deps in graph.items()
                   if n.startswith("optimizer.methods") for m in deps)


def test_optimizer_imports_neither_app_nor_simulator() -> None:
    """The library knows nothing of the service or the simulator."""
    bad = sorted(f"{m} imports {i}" for m, p in _modules().items()
                 for i in _imports(p, m, p.name == "__init__.py")
                 if i.split(".")[0] in ("app", "simulator", "bench"))
    assert bad == []
