"""The component registry: the single source for validation, `wharf schema` and docs.

Component modules register themselves at import (`@registry.step("map")`, ...). Which
modules those are is declared by installed distributions in the `wharf.components`
entry-point group, Wharf's own (in its pyproject.toml) exactly as a plug-in's:
`load_components` imports each named module once, so the core names no plug-in.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from runtime.core.components import ConnectionConfig, Step, TriggerConfig

ComponentT = TypeVar("ComponentT", bound=type[Any])

STEPS: dict[str, type[Step]] = {}
TRIGGERS: dict[str, type[TriggerConfig]] = {}
CONNECTORS: dict[str, type[ConnectionConfig]] = {}

ENTRY_POINT_GROUP = "wharf.components"
# Wharf's own entry points load first: a plug-in that takes one of its names is the one
# named in the "registered twice" error.
OWN_DISTRIBUTION = "wharf"

_loaded = False


class ComponentLoadError(RuntimeError):
    """A `wharf.components` entry point failed to import, or none is installed."""


def _registrar(table: dict[str, Any], kind: str, name: str) -> Callable[[ComponentT], ComponentT]:
    def register(cls: ComponentT) -> ComponentT:
        if table.get(name, cls) is not cls:
            raise RuntimeError(f"{kind} {name!r} registered twice")
        table[name] = cls
        return cls

    return register


def step(name: str) -> Callable[[ComponentT], ComponentT]:
    return _registrar(STEPS, "step", name)


def trigger(name: str) -> Callable[[ComponentT], ComponentT]:
    return _registrar(TRIGGERS, "trigger", name)


def connector(name: str) -> Callable[[ComponentT], ComponentT]:
    return _registrar(CONNECTORS, "connector", name)


def _distribution(entry: EntryPoint) -> str:
    return entry.dist.name if entry.dist is not None else ""


def component_entry_points() -> list[EntryPoint]:
    """The installed `wharf.components` entry points, Wharf's own first, then by name."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    return sorted(
        found, key=lambda e: (_distribution(e) != OWN_DISTRIBUTION, _distribution(e), e.name)
    )


def _load(entry: EntryPoint) -> None:
    try:
        entry.load()
    except Exception as exc:
        source = _distribution(entry) or "an unknown distribution"
        raise ComponentLoadError(
            f"the {ENTRY_POINT_GROUP} entry point {entry.name!r} of {source} "
            f"({entry.value}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc


def load_components() -> None:
    """Import every module a `wharf.components` entry point names; once per process (a
    failure is raised again on the next call)."""
    global _loaded
    if _loaded:
        return
    found = component_entry_points()
    if not found:
        raise ComponentLoadError(
            f"no {ENTRY_POINT_GROUP} entry points are installed, so no step, trigger or "
            "connector is known: install Wharf (`make`, or `pip install -e .`)"
        )
    _loaded = True  # a component module that loads the registry itself finds it under way
    try:
        for entry in found:
            _load(entry)
    except BaseException:
        _loaded = False
        raise
