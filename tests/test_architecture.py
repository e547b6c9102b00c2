"""The layout rules of DESIGN.md, checked on the source: no import circle, the import rule, no
module over 450 lines, and a `cli` that imports no heavy library at module level.

The checks read the source with `ast` (no module is imported), so they are fast and see imports
inside functions too: a lazy import that closes a circle is still a circle in the design.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "medocr_cli"

#: Top-level parts of the package that anyone may import and that import none of the others.
LEAVES = {"io", "types", "errors", "config", "site_config"}

#: What each part may NOT import (DESIGN.md: cli -> pipeline -> stages -> models; training and
#: synth beside stages; io, types, errors, config leaves). A model family's training task uses
#: the shared fit loop in `training`, so `models` may import `training`, never the layers above.
FORBIDDEN: dict[str, set[str]] = {
    "pipeline": {"cli"},
    "stages": {"cli", "pipeline", "training", "synth"},
    "training": {"cli", "pipeline", "stages", "synth"},
    "synth": {"cli", "pipeline", "stages", "training"},
    "models": {"cli", "pipeline", "stages", "synth"},
}

MAX_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The `medocr_cli` modules that module `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # A module importing its own package's __init__ is how packages work, not a circle.
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_cycle_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_import_rule_of_the_design() -> None:
    broken = []
    for module, imported in _graph().items():
        part = _part(module)
        for target in imported:
            other = _part(target)
            if other == part:
                continue
            if part in LEAVES and other not in LEAVES:
                broken.append(f"{module} -> {target} (a leaf imports only leaves)")
            elif other in FORBIDDEN.get(part, set()):
                broken.append(f"{module} -> {target} ({part} may not import {other})")
    assert broken == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_over_450_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines"


def test_cli_imports_no_heavy_library_at_module_level() -> None:
    heavy = {"torch", "torchvision", "cv2", "numpy", "pydicom", "PIL"}
    found = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in heavy]
    assert found == []


def test_graph_reads_lazy_and_relative_imports(tmp_path: Path) -> None:
    # The checker itself: an import inside a function counts.
    modules = {"medocr_cli.a": tmp_path / "a.py", "medocr_cli.b": tmp_path / "b.py"}
    modules["medocr_cli.a"].write_text("def f():\n    from medocr_cli.b import g\n")
    modules["medocr_cli.b"].write_text("from medocr_cli import a\n")
    assert _imports("medocr_cli.a", modules["medocr_cli.a"], modules) == {"medocr_cli.b"}
    graph = defaultdict(set, {k: _imports(k, p, modules) for k, p in modules.items()})
    assert graph["medocr_cli.b"] == {"medocr_cli.a"}  # `from package import module` counts
    assert _cycles(graph) == [["medocr_cli.a", "medocr_cli.b"]]
