"""Layers point one way (contracts ← runtime ← services ← applications) and no module imports itself in a circle.

Every import counts: at the top of a module, inside a function, and a module named in a string handed to
`importlib.import_module` / `__import__` (an f-string counts by its fixed prefix). A checker that missed those
would let a cycle or an upward import hide, so the last tests feed it a tree that breaks each rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contracts", "runtime", "services", "audit", "closeloop")
# What each top-level package may import (besides itself). The two applications sit on top; the audit tools
# stand on their own and do not reach into the command line.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "contracts": frozenset(),
    "runtime": frozenset({"contracts"}),
    "services": frozenset({"contracts", "runtime"}),
    "audit": frozenset({"contracts", "runtime", "services"}),
    "closeloop": frozenset({"contracts", "runtime", "services", "audit"}),
}
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Edge:
    """One import: who imports what, where, and how (`import`, `function`, `dynamic`, `string`)."""

    source: str
    target: str
    line: int
    how: str


def module_names(root: Path) -> dict[str, Path]:
    """Every first-party module below root, by dotted name (packages by their own name)."""
    names: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else []:
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names[".".join(parts)] = path
    return names


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` is or lies in (a.b.C → a.b when C is a class)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _dynamic_target(node: ast.Call) -> str | None:
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if called not in DYNAMIC_IMPORTERS or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).rstrip(".")  # f"services.{name}.app" names at least `services`
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> Iterator[Edge]:
    """Every first-party import a module makes, wherever it stands in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    seen: set[tuple[str, int]] = set()  # a name handed to import_module is one import, not two
    for node in ast.walk(tree):
        how = "import" if id(node) in top_level else "function"
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and (name := _dynamic_target(node)) is not None:
            how, targets = "dynamic", [name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value \
                and node.value in known:
            how, targets = "string", [node.value]  # a module named in full (logger names are not modules)
        for target in targets:
            resolved = _resolve(target, known)
            line = getattr(node, "lineno", 0)
            if resolved is not None and resolved != module and (resolved, line) not in seen:
                seen.add((resolved, line))
                yield Edge(module, resolved, line, how)


def import_graph(root: Path) -> list[Edge]:
    """All first-party import edges of the tree below root."""
    known = module_names(root)
    return [edge for module, path in known.items() for edge in imports_of(module, path, known)]


def layer_violations(edges: list[Edge]) -> list[str]:
    """Imports that point up (or sideways between two services), each with where and how it is made."""
    bad = []
    for e in edges:
        src, dst = e.source.split(".")[0], e.target.split(".")[0]
        if src != dst and dst not in MAY_IMPORT[src]:
            bad.append(f"{e.source}:{e.line} imports {e.target} ({e.how}): {src} may not import {dst}")
        elif src == dst == "services":
            mine, theirs = e.source.split(".")[:2], e.target.split(".")[:2]
            if len(mine) > 1 and len(theirs) > 1 and mine != theirs:
                bad.append(f"{e.source}:{e.line} imports {e.target} ({e.how}): a service imports no other service")
    return bad


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down_the_layers() -> None:
    edges = import_graph(ROOT)
    assert len(edges) > 100, "the checker found almost no imports: is it reading the tree?"
    assert layer_violations(edges) == []


def test_no_module_of_runtime_imports_services_even_inside_a_function_or_by_name() -> None:
    upward = [e for e in import_graph(ROOT) if e.source.startswith("runtime") and e.target.startswith("services")]
    assert upward == []


def test_there_is_no_import_cycle() -> None:
    assert cycles(import_graph(ROOT)) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        for folder in [tmp_path / package, *(p for p in (tmp_path / package).rglob("*") if p.is_dir())]:
            if folder.is_dir() and not (folder / "__init__.py").exists():
                (folder / "__init__.py").write_text("", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("source", [
    "from services.issues import store\n",
    "def later() -> None:\n    from services.issues.store import Issue\n",
    "import importlib\n\ndef later() -> None:\n    importlib.import_module('services.issues.store')\n",
    "from importlib import import_module\n\ndef later(name: str) -> None:\n    import_module(f'services.{name}.app')\n",
    "WHERE = 'services.issues.store'\n",
])
def test_the_checker_catches_runtime_reaching_into_a_service(tmp_path: Path, source: str) -> None:
    root = _tree(tmp_path, {"runtime/db.py": source, "services/issues/store.py": "", "services/issues/app.py": ""})
    [violation] = layer_violations(import_graph(root))
    assert violation.startswith("runtime.db:") and "runtime may not import services" in violation


def test_the_checker_catches_a_cycle_hidden_behind_a_function_level_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "runtime/db.py": "def migrate() -> None:\n    from runtime.migrations import upgrade\n",
        "runtime/migrations.py": "import importlib\n\ndef load() -> None:\n    importlib.import_module('runtime.models')\n",
        "runtime/models.py": "from runtime.db import UTCDateTime\n",
    })
    assert cycles(import_graph(root)) == [["runtime.db", "runtime.migrations", "runtime.models"]]


def test_the_checker_catches_one_service_importing_another(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"services/notify/handlers.py": "from ..issues import domain\n",
                            "services/issues/domain.py": ""})
    assert layer_violations(import_graph(root)) == [
        "services.notify.handlers:1 imports services.issues.domain (import): a service imports no other service"
    ]
