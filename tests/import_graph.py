"""The import graph of a top-level package of this repository, read from its source.

Nothing is imported: every ``.py`` file below ``<repo>/<package>/`` is parsed and every
``import`` statement in it counts, at module top or inside a function or class alike
(relative imports resolved). ``from a import b`` counts as importing the module ``a.b`` when
that is one of the package's modules, else ``a``. Used by ``tests/test_package_imports.py``
(DESIGN.md, "Packages").
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def modules(package: str, repo: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file for every module of ``package`` (``__init__`` as the
    package itself), in name order."""
    root = repo / package
    out: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(repo).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return dict(sorted(out.items()))


def _base(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names (``node.level`` dots resolved against
    module ``name``)."""
    if not node.level:
        return node.module or ""
    parts = name.split(".") if is_package else name.split(".")[:-1]
    parts = parts[:len(parts) - node.level + 1]
    return ".".join([*parts, node.module] if node.module else parts)


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every module the file ``path`` (module ``name``) imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, name, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return found


def all_imports(package: str, repo: Path = REPO) -> dict[str, set[str]]:
    """Module -> every module it imports (inside the package or not)."""
    known = modules(package, repo)
    return {name: imports(path, name, known) for name, path in known.items()}


def graph(package: str, repo: Path = REPO) -> dict[str, set[str]]:
    """Module -> the other modules of the same package it imports."""
    known = modules(package, repo)
    return {name: {i for i in found if i in known} - {name}
            for name, found in all_imports(package, repo).items()}


def forbidden_imports(package: str, banned: tuple[str, ...], repo: Path = REPO
                      ) -> list[tuple[str, str]]:
    """``(module, import)`` pairs where a module of ``package`` imports one of the top-level
    packages ``banned``."""
    return sorted((name, imp) for name, found in all_imports(package, repo).items()
                  for imp in found if imp.split(".")[0] in banned)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``edges`` as a module chain that returns to its start
    (``[a, b, ..., a]``), or ``None`` when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def oversized(package: str, max_lines: int, repo: Path = REPO) -> dict[str, int]:
    """Module -> line count of every module of ``package`` longer than ``max_lines``."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in modules(package, repo).items()}
    return {name: n for name, n in sizes.items() if n > max_lines}
