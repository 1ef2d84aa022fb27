"""The component registry: the single source for validation, `wharf schema` and docs.

Component modules register themselves at import; `load_components` imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from runtime.components import ConnectionConfig, Step, TriggerConfig

StepT = TypeVar("StepT", bound=type[Step])
TriggerT = TypeVar("TriggerT", bound=type[TriggerConfig])
ConnectorT = TypeVar("ConnectorT", bound=type[ConnectionConfig])

STEPS: dict[str, type[Step]] = {}
TRIGGERS: dict[str, type[TriggerConfig]] = {}
CONNECTORS: dict[str, type[ConnectionConfig]] = {}

# Packages whose import registers every built-in component.
COMPONENT_PACKAGES = ("processes.connectors", "processes.steps", "listeners")


def step(name: str) -> Callable[[StepT], StepT]:
    def register(cls: StepT) -> StepT:
        if name in STEPS and STEPS[name] is not cls:
            raise RuntimeError(f"step {name!r} registered twice")
        STEPS[name] = cls
        return cls

    return register


def trigger(name: str) -> Callable[[TriggerT], TriggerT]:
    def register(cls: TriggerT) -> TriggerT:
        if name in TRIGGERS and TRIGGERS[name] is not cls:
            raise RuntimeError(f"trigger {name!r} registered twice")
        TRIGGERS[name] = cls
        return cls

    return register


def connector(name: str) -> Callable[[ConnectorT], ConnectorT]:
    def register(cls: ConnectorT) -> ConnectorT:
        if name in CONNECTORS and CONNECTORS[name] is not cls:
            raise RuntimeError(f"connector {name!r} registered twice")
        CONNECTORS[name] = cls
        return cls

    return register


def load_components() -> None:
    for package in COMPONENT_PACKAGES:
        importlib.import_module(package)
