"""Components register through `wharf.components` entry points: the installed ones are
the ones pyproject.toml declares, every module that registers a component is reached by
one, they load once, and a failure names the entry point."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, distribution
from pathlib import Path

import pytest

from runtime.core import registry
from runtime.core.components import Step

ROOT = Path(__file__).resolve().parents[3]
TABLES = {"step": registry.STEPS, "trigger": registry.TRIGGERS, "connector": registry.CONNECTORS}


def declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entries: dict[str, str] = project["entry-points"][registry.ENTRY_POINT_GROUP]
    return entries


def test_the_installed_entry_points_are_the_declared_ones() -> None:
    installed = {
        entry.name: entry.value
        for entry in distribution("wharf").entry_points
        if entry.group == registry.ENTRY_POINT_GROUP
    }
    assert installed == declared(), (
        "pyproject.toml's wharf.components table changed since the last install: "
        "reinstall (`make test` does; or `.venv/bin/pip install -e '.[test]'`)"
    )


def registrations() -> list[tuple[str, str, str]]:
    """(module path, kind, name) of every `@registry.<kind>("name")` in the source."""
    found = []
    for package in ("runtime", "listeners", "processes"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "registry"
                    and node.func.attr in TABLES
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    relative = str(path.relative_to(ROOT))
                    found.append((relative, node.func.attr, str(node.args[0].value)))
    return found


def test_every_registering_module_is_reached_by_an_entry_point() -> None:
    registry.load_components()
    found = registrations()
    assert len(found) >= 50  # the scan sees the decorators
    missing = [
        f"{path} registers {kind} {name!r}"
        for path, kind, name in found
        if name not in TABLES[kind]
    ]
    assert missing == [], (
        "no wharf.components entry point imports these (add one in pyproject.toml, or put "
        "the module in a package that has one):\n" + "\n".join(missing)
    )


def test_wharf_registers_connectors_steps_and_triggers_of_each_package() -> None:
    registry.load_components()
    modules = {cls.__module__ for table in TABLES.values() for cls in table.values()}
    for value in declared().values():
        assert any(module == value or module.startswith(value + ".") for module in modules), value


@dataclass
class FakeEntryPoints:
    """Stands in for `importlib.metadata.entry_points`: lists `listed`, counts calls."""

    listed: list[EntryPoint] = field(default_factory=list)
    calls: int = 0

    def __call__(self, group: str) -> list[EntryPoint]:
        assert group == registry.ENTRY_POINT_GROUP
        self.calls += 1
        return self.listed

    def add(self, name: str, value: str) -> None:
        self.listed.append(EntryPoint(name, value, registry.ENTRY_POINT_GROUP))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEntryPoints:
    """The registry as if nothing were loaded yet, over entry points the test chooses
    (the tables keep what is registered: a module is imported once per interpreter)."""
    fake = FakeEntryPoints()
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "entry_points", fake)
    return fake


def test_components_load_once(fake: FakeEntryPoints) -> None:
    fake.add("steps", "processes.steps")
    registry.load_components()
    registry.load_components()
    assert fake.calls == 1


def test_a_failing_entry_point_is_named_and_tried_again(fake: FakeEntryPoints) -> None:
    fake.add("steps", "processes.steps")
    fake.add("gone", "wharf_gone.steps")
    for _ in range(2):
        with pytest.raises(registry.ComponentLoadError) as raised:
            registry.load_components()
        message = str(raised.value)
        assert "entry point 'gone' of an unknown distribution (wharf_gone.steps)" in message
        assert "ModuleNotFoundError" in message
    assert fake.calls == 2


def test_no_entry_points_means_wharf_is_not_installed(fake: FakeEntryPoints) -> None:
    with pytest.raises(registry.ComponentLoadError, match=r"install Wharf"):
        registry.load_components()


def test_a_name_taken_twice_is_refused() -> None:
    registry.load_components()

    class Twin(Step):
        pass

    with pytest.raises(RuntimeError, match="step 'map' registered twice"):
        registry.step("map")(Twin)
