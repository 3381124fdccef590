"""The package's layout stays true: layers import only down, no import circle, short modules.

Layers, lowest first (a module may import its own layer and those below):

0. the estimator stack: the package root (but the command) and ``training/``;
1. ``metrics/``: numbers from accuracies and embeddings;
2. ``datasets/``: the task sequences;
3. ``runs/``: results files and the machinery of runs;
4. ``plotting/``: figures from results files;
5. ``experiments/``: the commands that train, summarise and plot;
6. ``cli``: the ``proglearn-supcon`` command.

Every import counts, also one inside a function: a lazy import that dodges a
circle at import time is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "proglearn_supcon"
LAYERS = {"metrics": 1, "datasets": 2, "runs": 3, "plotting": 4, "experiments": 5, "cli": 6}
MAX_LINES = 450  # the guard; the layout's target is 400 (issue 30)
MAX_ROOT_MODULES = 20


def module_name(path: Path) -> str:
    parts = ("proglearn_supcon", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def imports_of(name: str) -> set[str]:
    """The package's modules that module ``name`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    package = name if is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            subs = {f"{module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(subs or {module})
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def test_imports_only_go_down():
    upward = [f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a in GRAPH for b in GRAPH[a] if layer(b) > layer(a)]
    assert not upward, "\n".join(upward)


def _edges_without_own_package(name: str) -> set[str]:
    # A package's __init__ re-exporting its modules, and a module using a
    # sibling through the package, are one unit, not a circle between units.
    return {b for b in GRAPH[name] if not (is_package(b) and name.startswith(b + ".")) and not name == b}


def find_cycle() -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(_edges_without_own_package(node)):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in colour and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(GRAPH):
        if start not in colour and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_circle():
    cycle = find_cycle()
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle(monkeypatch):
    monkeypatch.setitem(GRAPH, "proglearn_supcon.network", GRAPH["proglearn_supcon.network"] | {"proglearn_supcon.cli"})
    monkeypatch.setitem(GRAPH, "proglearn_supcon.cli", GRAPH["proglearn_supcon.cli"] | {"proglearn_supcon.network"})
    assert find_cycle() is not None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_short(name):
    n_lines = len(MODULES[name].read_text().splitlines())
    assert n_lines <= MAX_LINES, f"{MODULES[name]} has {n_lines} lines; split it by concept"


def test_package_root_is_small():
    root = [p.name for p in PACKAGE.glob("*.py")]
    assert len(root) <= MAX_ROOT_MODULES, sorted(root)


def test_layers_are_as_named():
    assert layer("proglearn_supcon.training.engine") == 0 == layer("proglearn_supcon.network")
    assert layer("proglearn_supcon.runs.results") == 3 and layer("proglearn_supcon.cli") == 6
    assert "proglearn_supcon.training.engine" in GRAPH["proglearn_supcon.transformers"]
