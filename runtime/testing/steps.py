"""Running steps without a server: what a test of a process's `steps:` needs.

The steps are validated exactly as in a process file (same models, same load-time checks,
problems located by line), then run by the engine over the given documents. Connector
steps get their clients from `connections` (a `FakeConnections`, or real configs).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from runtime.core.components import ConnectionConfig
from runtime.core.connections import Connections
from runtime.core.definitions import ProcessDefinition
from runtime.core.document import Document
from runtime.core.engine import ExecutionResult, Process
from runtime.core.errors import ConfigError
from runtime.loading.yaml_lines import Loc, load_yaml
from runtime.loading.yaml_models import LoadProblem, YamlFile, validation_problems
from runtime.testing.fakes import FakeConnections

Steps = str | Sequence[Mapping[str, Any]]
ConnectionsArg = Connections | Mapping[str, ConnectionConfig] | None
_TRIGGER = {"http": {"path": "/run-steps", "auth": "none"}}  # never mounted
_WHERE = "<steps>"


class StepsInvalid(ConfigError):
    """The steps would not load; `problems` says where, as `wharf validate` would."""

    def __init__(self, problems: list[LoadProblem]) -> None:
        self.problems = problems
        super().__init__("the steps are not valid:\n" + "\n".join(f"  {p}" for p in problems))


def steps_process(
    steps: Steps,
    *,
    connections: ConnectionsArg = None,
    namespaces: Mapping[str, str] | None = None,
    base_dir: Path | str | None = None,
    name: str = "run-steps",
) -> Process:
    """A process with these steps (YAML text of a `steps:` list, or the list itself).

    Line 1 of YAML text is its first non-blank line. `base_dir` is where relative file
    names in the steps (schemas, XSLT) are found, like a process file's directory; by
    default the working directory."""
    if isinstance(steps, str):
        try:
            data, steps_lines, _ = load_yaml(textwrap.dedent(steps).lstrip("\n"))
        except yaml.YAMLError as exc:
            raise StepsInvalid([LoadProblem(_WHERE, 1, "", f"invalid YAML: {exc}")]) from None
    else:
        data, steps_lines = list(steps), {}
    lines: dict[Loc, int] = {("steps", *loc): line for loc, line in steps_lines.items()}
    context = {
        "namespaces": dict(namespaces or {}),
        "base_dir": Path(base_dir) if base_dir is not None else Path.cwd(),
        "connections": _declared(connections),
        "refused_connections": {},
    }
    source = {"name": name, "trigger": _TRIGGER, "namespaces": context["namespaces"]}
    try:
        definition = ProcessDefinition.model_validate({**source, "steps": data}, context=context)
    except ValidationError as exc:
        file = YamlFile(Path(_WHERE), _WHERE, {"steps": data}, lines)
        raise StepsInvalid(validation_problems(file, exc, model=ProcessDefinition)) from None
    return Process(definition)


async def run_steps(
    steps: Steps | Process,
    documents: Document | Sequence[Document] = (),
    *,
    connections: ConnectionsArg = None,
    namespaces: Mapping[str, str] | None = None,
    base_dir: Path | str | None = None,
    started_by: str = "test",
) -> ExecutionResult:
    """Run steps over documents as an execution of a process would, without a server.

    A step's failure does not raise: it is in `result.execution.error` (and
    `result.execution.status` is `failed`), as in an execution record. The connection
    clients are closed before this returns."""
    process = (
        steps
        if isinstance(steps, Process)
        else steps_process(steps, connections=connections, namespaces=namespaces, base_dir=base_dir)
    )
    live = _live(connections)
    batch = [documents] if isinstance(documents, Document) else list(documents)
    try:
        return await process.execute(batch, started_by=started_by, connections=live)
    finally:
        await live.close()


def _declared(connections: ConnectionsArg) -> dict[str, ConnectionConfig]:
    if isinstance(connections, FakeConnections):
        return connections.declared()
    if isinstance(connections, Connections):
        return dict(connections.configs)
    return dict(connections or {})


def _live(connections: ConnectionsArg) -> Connections:
    if isinstance(connections, Connections):
        return connections
    return Connections(dict(connections or {}))
