"""pyproject.toml names every third-party library Wharf imports, each with a lower bound.

The imports are read with `ast` (module level, under TYPE_CHECKING, inside functions) and
each top-level module is mapped to the distribution that provides it with
`importlib.metadata.packages_distributions()`. A module-level import must be a plain
dependency: it runs whenever the module loads. An import deferred into a function may
come from a runtime extra (a database driver the sql connector loads when it opens).
Tests and benchmarks may also use the `test` extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ("runtime", "listeners", "processes")
OWN = frozenset({*CODE, "tests", "benchmarks"})
RUNTIME_EXTRAS = ("postgresql", "mysql")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement.strip())
    assert match is not None, f"unreadable requirement {requirement!r}"
    return canonical(match.group(0))


@cache
def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        table: dict[str, Any] = tomllib.load(file)["project"]
    return table


def requirements(extra: str | None = None) -> list[str]:
    """The requirements of the plain dependencies, or of one extra."""
    table = project()
    found = table["dependencies"] if extra is None else table["optional-dependencies"][extra]
    return [str(item) for item in found]


def declared(*extras: str | None) -> set[str]:
    return {requirement_name(r) for extra in extras for r in requirements(extra)}


def third_party_imports(*folders: str) -> list[tuple[str, str, bool]]:
    """(top-level module, `file:line`, deferred into a function) of every import."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            deferred_lines = {
                node.lineno
                for function in ast.walk(tree)
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
                for node in ast.walk(function)
                if isinstance(node, ast.Import | ast.ImportFrom)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.append((top, where, node.lineno in deferred_lines))
    return found


def undeclared(
    imports: list[tuple[str, str, bool]], eager: set[str], deferred: set[str]
) -> list[str]:
    distributions = packages_distributions()
    problems = []
    for module, where, is_deferred in imports:
        providers = {canonical(name) for name in distributions.get(module, [])}
        if not providers:
            problems.append(f"{where}: {module} is not installed by any declared distribution")
        elif not providers & (deferred if is_deferred else eager):
            allowed = "a dependency or runtime extra" if is_deferred else "a dependency"
            problems.append(f"{where}: {module} ({', '.join(sorted(providers))}) is not {allowed}")
    return problems


def test_every_library_the_code_imports_is_declared() -> None:
    imports = third_party_imports(*CODE)
    assert {"aiohttp", "httpx", "yarl", "sqlalchemy", "cryptography"} <= {m for m, _, _ in imports}
    base = declared(None)
    assert undeclared(imports, base, base | declared(*RUNTIME_EXTRAS)) == []


def test_every_library_the_tests_and_benchmarks_import_is_declared() -> None:
    imports = third_party_imports("tests", "benchmarks")
    assert {"pytest", "aiohttp"} <= {m for m, _, _ in imports}
    everything = declared(None, *RUNTIME_EXTRAS, "test")
    assert undeclared(imports, everything, everything) == []


def test_every_requirement_has_a_lower_bound() -> None:
    extras = project()["optional-dependencies"]
    unbounded = [
        requirement
        for extra in [None, *extras]
        for requirement in requirements(extra)
        if ">=" not in requirement and requirement_name(requirement) != "wharf"
    ]
    assert unbounded == []


def test_database_drivers_are_extras_that_the_test_extra_installs() -> None:
    assert declared("postgresql") == {"asyncpg"}
    assert declared("mysql") == {"asyncmy"}
    assert not {"asyncpg", "asyncmy"} & declared(None)  # a base install needs neither
    test_extra = requirements("test")
    installs = {requirement_name(r) for r in test_extra}
    selves = [r for r in test_extra if requirement_name(r) == "wharf"]
    for self_reference in selves:
        inside = self_reference.split("[", 1)[1].split("]", 1)[0]
        installs |= declared(*(extra.strip() for extra in inside.split(",")))
    assert {"asyncpg", "asyncmy"} <= installs  # `make test` runs the sql tests on both
