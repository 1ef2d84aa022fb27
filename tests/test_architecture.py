"""The shape of the house: no import circles, no import from a lower layer to a
higher one, no module over 400 lines or function over 60. Every import counts — module
level, `TYPE_CHECKING` blocks and imports inside functions — because each is a
dependency a reader has to follow.

The layer map below is the architecture in one table (docs/architecture.md explains it).
A module may import its own layer and any lower one, never a higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "listeners", "processes")

# Lowest first. Each entry: a layer name and the packages/modules it holds (a module
# belongs to the longest prefix that names it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("runtime", "runtime.core")),
    ("formats", ("runtime.formats",)),
    ("web", ("runtime.web",)),
    ("processes", ("processes",)),
    ("store", ("runtime.store",)),
    ("services", ("runtime.security", "runtime.traffic")),
    ("dispatch", ("runtime.dispatch",)),
    ("schedules", ("runtime.schedules",)),
    ("listeners", ("listeners",)),
    ("loading", ("runtime.loading",)),
    ("server", ("runtime.server",)),
    ("cli", ("runtime.cli",)),
    ("testing", ("runtime.testing",)),
]


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        is_package = MODULES[module].name == "__init__.py"
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([base] if base else []))
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"


def _owner(target: str) -> str | None:
    """The project module an imported name lives in (None: a third-party import)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(name, node):
                    owner = _owner(target)
                    if owner is not None and owner != name:
                        graph[name].add(owner)
    return graph


def layer_of(module: str) -> int:
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the circles are the components of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
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
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_import_circles() -> None:
    circles = strongly_connected(import_graph())
    assert circles == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == [], "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_the_checks_can_fail() -> None:
    """The circle finder and the layer map, on a made-up graph."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert layer_of("runtime.server.app") > layer_of("listeners.http") > layer_of("runtime.core")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("elsewhere.module")


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_modules_and_functions_stay_small() -> None:
    """A module over 400 lines does two jobs; a function over 60 lines hides several."""
    too_long = []
    for name, path in sorted(MODULES.items()):
        source = path.read_text()
        if (lines := len(source.splitlines())) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name} (line {node.lineno}): {length} lines")
    assert too_long == [], "split these:\n" + "\n".join(too_long)
