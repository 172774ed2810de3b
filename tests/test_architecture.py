"""The house rules, read from the code's own imports (every import, module-level or inside a
function; only ``if TYPE_CHECKING:`` blocks are left out):

    newsflow (the application: settings, CLI, status, kibana...)
      -> newsflow.pipeline                      composes the layers below into stages
        -> newsflow.{ingest, processors, index, bus, daemon}   each imports only itself and core
          -> newsflow.core                      leaves: import nothing of newsflow

No layer imports one above it or a sibling; no module imports itself back through a cycle.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIRS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
MIDDLE = ("newsflow.ingest", "newsflow.processors", "newsflow.index", "newsflow.bus", "newsflow.daemon")


def modules() -> dict[str, Path]:
    """Every module of the package, by its import name (package-dir maps folders into newsflow.*)."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        root = REPO / folder
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    out.add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                out.add(base)
                for alias in child.names:
                    out.add(f"{base}.{alias.name}")
            visit(child)

    visit(tree)
    resolved = set()
    for target in out:
        # The longest known module the import names ("from a.b import c" may name module a.b.c).
        parts = target.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts and ".".join(parts) != name:
            resolved.add(".".join(parts))
    return resolved


def layer(module: str) -> str:
    if module == "newsflow.core" or module.startswith("newsflow.core."):
        return "core"
    for pkg in MIDDLE:
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    if module == "newsflow.pipeline" or module.startswith("newsflow.pipeline."):
        return "pipeline"
    return "app"


ALLOWED = {
    "core": {"core"},
    **{pkg: {"core", pkg} for pkg in MIDDLE},
    "pipeline": {"core", "pipeline", *MIDDLE},
    "app": {"core", "pipeline", "app", *MIDDLE},
}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_the_graph_sees_every_layer(graph: dict[str, set[str]]) -> None:
    layers = {layer(m) for m in graph}
    assert layers == {"core", "pipeline", "app", *MIDDLE}, layers
    assert "newsflow.ingest.poller" in graph and "newsflow.pipeline.backends" in graph["newsflow.pipeline.daemons"]


def test_no_layer_imports_one_above_it_or_a_sibling(graph: dict[str, set[str]]) -> None:
    wrong = sorted(
        f"{m} ({layer(m)}) imports {t} ({layer(t)})"
        for m, targets in graph.items()
        for t in targets
        if layer(t) not in ALLOWED[layer(m)]
    )
    assert not wrong, "\n".join(wrong)


def test_the_ground_floor_and_the_package_root_import_nothing_of_newsflow(graph: dict[str, set[str]]) -> None:
    leaves = {m: sorted(t) for m, t in graph.items() if (layer(m) == "core" or m == "newsflow") and t}
    assert not leaves, leaves


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    # A package imports its own submodules (an __init__ re-exporting) without that being a cycle
    # of layers; every other strongly connected component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    assert not cycles, cycles


def test_the_rules_catch_an_upward_import() -> None:
    """The checker itself: a bus module importing the settings, or the index importing the bus."""
    assert layer("newsflow.settings") not in ALLOWED[layer("newsflow.bus.kafka")]
    assert layer("newsflow.bus.types") not in ALLOWED[layer("newsflow.index.elastic")]
    assert layer("newsflow.pipeline.backends") not in ALLOWED[layer("newsflow.ingest.poller")]
    assert layer("newsflow.core.record") in ALLOWED[layer("newsflow.processors.enrich.chain")]


def test_the_import_reader_resolves_relative_and_lazy_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "def f():\n    from newsflow.settings import load\n"
        "if TYPE_CHECKING:\n    from newsflow.cli import app\n"
    )
    known = {"newsflow.bus", "newsflow.bus.m", "newsflow.bus.sibling", "newsflow.settings", "newsflow.cli"}
    assert imports_of("newsflow.bus.m", src, known) == {"newsflow.bus", "newsflow.bus.sibling", "newsflow.settings"}
