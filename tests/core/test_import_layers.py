"""The simulator's modules import one way (types -> numerics -> runtime -> tensor -> ops -> ttnn mirror):
no module of core/ imports, directly or through others, a module that imports it back, counting
function-level imports too (they are cycles deferred, not removed). Imports under TYPE_CHECKING are
annotations only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"


def _module_name(path: Path, root: Path) -> str:
    parts = ["ttport", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
        ):
            skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module (named as if `root` were the ttport package) -> the modules of the same tree it imports (a `from pkg import sub` counts as importing sub)."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        skipped = _type_checking_nodes(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                module = (
                    ".".join(base + [node.module] if node.module else base) if node.level else node.module
                )
                subs = {f"{module}.{alias.name}" for alias in node.names} & paths.keys()
                deps |= subs or ({module} & paths.keys())
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names} & paths.keys()
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_core_imports_one_way() -> None:
    assert cycles(import_graph(CORE)) == []


def test_the_check_sees_a_function_level_cycle(tmp_path: Path) -> None:
    # the check itself: a deferred import back is a cycle
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import x\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["ttport.pkg.a", "ttport.pkg.b"]]
    assert graph["ttport.pkg.c"] == set()


@pytest.mark.parametrize("module", ["ttport.sim.tensor", "ttport.sim.rules", "ttport.sim.runtime"])
def test_lower_layers_do_not_import_ops(module: str) -> None:
    graph = import_graph(CORE)
    assert not {dep for dep in graph[module] if dep.startswith("ttport.sim.ops")}
