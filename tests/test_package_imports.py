"""Import structure of the library packages and the service (DESIGN.md, "Packages"): no
import cycle inside a package (function-local imports included), ``simulator`` and
``optimizer`` import nothing of ``app``, ``bench`` or each other, and no module is over the
size limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import find_cycle, forbidden_imports, graph, modules, oversized

MAX_LINES = 450
"""Largest module [lines] (migrations/ excepted: generated revisions)."""

PACKAGES = ("simulator", "optimizer", "app")
BANNED: dict[str, tuple[str, ...]] = {
    "simulator": ("app", "bench", "optimizer"),
    "optimizer": ("app", "bench", "simulator"),
}
"""Top-level packages each library must not import."""


def test_cycle_finder_finds_a_planted_cycle() -> None:
    """The checker itself: a -> b -> c -> a is reported as that chain, a DAG is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_graph_sees_relative_and_function_local_imports(tmp_path: Path) -> None:
    """A function-local relative import and a package's ``from .. import`` are edges; an
    import of a name (not a module) counts as its module; the planted cycle is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import os\n\n\ndef f():\n    from . import b\n    return b\n")
    (pkg / "b.py").write_text("from pkg.a import f\n")
    (pkg / "sub" / "__init__.py").write_text("from .. import a\nfrom ..b import f\n")
    edges = graph("pkg", tmp_path)
    assert edges == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"},
                     "pkg.sub": {"pkg.a", "pkg.b"}}
    assert find_cycle(edges) == ["pkg.a", "pkg.b", "pkg.a"]
    assert forbidden_imports("pkg", ("os",), tmp_path) == [("pkg.a", "os")]


@pytest.mark.parametrize(("package", "known_edge"), [
    ("simulator", ("simulator.mapping", "simulator.tiling")),
    ("optimizer", ("optimizer.methods.cfmesmo", "optimizer.context")),
    ("app", ("app.api.routes.studies", "app.services.studies")),
])
def test_no_import_cycle(package: str, known_edge: tuple[str, str]) -> None:
    """No chain of imports between the package's modules leads back to its start (the
    assertion message is the chain)."""
    edges = graph(package)
    src, dst = known_edge
    assert dst in edges[src]  # the graph is read, not empty
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


@pytest.mark.parametrize("package", sorted(BANNED))
def test_library_imports_no_other_package(package: str) -> None:
    """The simulator and the optimizer know nothing of the service, the benchmarks or each
    other: each is usable as a plain library."""
    assert forbidden_imports(package, BANNED[package]) == []


def test_suggest_and_methods_do_not_import_each_other() -> None:
    """``optimizer.methods`` never imports ``optimizer.suggest`` (the registry loads the
    methods by import path, so the two stay apart)."""
    edges = graph("optimizer")
    assert sorted((m, i) for m, deps in edges.items() if m.startswith("optimizer.methods")
                  for i in deps if i.startswith("optimizer.suggest")) == []


@pytest.mark.parametrize("package", [*PACKAGES, "bench"])
def test_no_module_over_the_size_limit(package: str) -> None:
    """Every module is at most MAX_LINES lines."""
    assert modules(package)
    assert oversized(package, MAX_LINES) == {}
