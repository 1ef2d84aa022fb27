"""The component registry: the single source for validation, `wharf schema` and docs.

Component modules register themselves at import (`@registry.step("map")`, ...);
`load_components` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from runtime.core.components import ConnectionConfig, Step, TriggerConfig

ComponentT = TypeVar("ComponentT", bound=type[Any])

STEPS: dict[str, type[Step]] = {}
TRIGGERS: dict[str, type[TriggerConfig]] = {}
CONNECTORS: dict[str, type[ConnectionConfig]] = {}

# Packages whose import registers every built-in component.
COMPONENT_PACKAGES = ("processes.connectors", "processes.steps", "listeners")


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


def load_components() -> None:
    for package in COMPONENT_PACKAGES:
        importlib.import_module(package)
