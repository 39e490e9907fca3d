"""The shape of the code: no import cycles, the engine knows nothing of notebooks, no
module takes another's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "engine" / "dvt_engine", ROOT / "dvt_jupyter")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            parts = list(path.relative_to(package.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs, at import or inside functions: `if TYPE_CHECKING:` blocks
    are left out (they never execute)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for each import that runs."""
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base, [a.name for a in node.names], node.lineno


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for base, names, _ in _imports(module, path):
            # `from pkg import mod` imports the submodule; importing pkg.mod runs pkg too
            parents = [".".join(base.split(".")[:i]) for i in range(1, base.count(".") + 1)]
            # (a module's own packages are already running when it runs: no edge to them
            # unless it imports from them by name)
            implicit = [p for p in parents if not module.startswith(p + ".")]
            for candidate in [*implicit, base, *(f"{base}.{n}" for n in names)]:
                if candidate in modules and candidate != module:
                    graph[module].add(candidate)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = _graph()
    assert "dvt_engine.session" in graph and graph["dvt_engine.session"]
    assert _cycles(graph) == []


def test_engine_knows_nothing_of_notebooks() -> None:
    for module, path in _modules().items():
        if not module.startswith("dvt_engine"):
            continue
        for base, _, line in _imports(module, path):
            top = base.split(".")[0]
            assert top not in ("IPython", "ipywidgets", "ipykernel", "traitlets",
                               "dvt_jupyter"), f"{path}:{line} imports {base}"


@pytest.mark.parametrize("package", ["dvt_engine", "dvt_jupyter"])
def test_no_module_takes_another_modules_private_names(package: str) -> None:
    modules = _modules()
    offenders = []
    for module, path in modules.items():
        if not module.startswith(package):
            continue
        for base, names, line in _imports(module, path):
            if base not in modules:
                continue  # third-party: not ours to judge
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and base != module:
                offenders.append(f"{path.relative_to(ROOT)}:{line} {base}: {private}")
    assert offenders == []
