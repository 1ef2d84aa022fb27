"""Loading a directory of process files: YAML -> validated definitions -> processes.

Every problem in every file is collected before anything is reported, so one run of
`wharf validate` shows them all. A directory with any problem never starts a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runtime.core.components import TriggerConfig
from runtime.core.definitions import AnyTrigger, ProcessDefinition
from runtime.core.engine import Process
from runtime.core.errors import ConfigError
from runtime.loading.connections import CONNECTIONS_FILES, load_connections
from runtime.loading.security import load_security
from runtime.loading.yaml_lines import Loc, format_loc, line_of
from runtime.loading.yaml_models import LoadProblem, read_yaml_file, validate_file
from runtime.security.config import SECURITY_FILES, SecurityConfig

__all__ = [
    "LoadProblem",
    "ProcessLoadError",
    "load_processes",
    "validate_directory",
    "validate_path",
]

PROCESS_SUFFIXES = (".yaml", ".yml")


class ProcessLoadError(ConfigError):
    def __init__(self, problems: list[LoadProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the process definitions")


@dataclass
class _Parsed:
    """A process file, or what its valid parts say when it has problems elsewhere (its
    trigger still takes part in the cross-file and access checks)."""

    path: Path
    definition: ProcessDefinition | None
    lines: dict[Loc, int]
    name: str | None
    trigger: tuple[str, TriggerConfig] | None


def process_files(directory: Path) -> list[Path]:
    """The process files of a directory: its `*.yaml` / `*.yml` files, not recursive, except
    `connections.yaml`."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in PROCESS_SUFFIXES
        and path.is_file()
        and path.name not in (*CONNECTIONS_FILES, *SECURITY_FILES)
    )


def _parse_file(
    path: Path, display: str, connections: dict[str, Any], refused: dict[str, str]
) -> tuple[_Parsed | None, list[LoadProblem]]:
    file, problems = read_yaml_file(path, display)
    if file is None:
        return None, problems
    if not isinstance(file.data, dict):
        problems.append(LoadProblem(display, 1, "", "a process file is a YAML mapping"))
        return None, problems
    namespaces = file.data.get("namespaces")
    context: dict[str, Any] = {
        "namespaces": namespaces if isinstance(namespaces, dict) else {},
        "base_dir": path.parent,
        "connections": connections,
        "refused_connections": refused,
    }
    definition, model_problems = validate_file(file, ProcessDefinition, context)
    if definition is None:
        name = file.data.get("name")
        trigger = _trigger_alone(file.data.get("trigger"), context)
        partial = _Parsed(path, None, file.lines, name if isinstance(name, str) else None, trigger)
        return partial, problems + model_problems
    return _Parsed(
        path, definition, file.lines, definition.name, definition.trigger.unwrap()
    ), problems


def _trigger_alone(data: Any, context: dict[str, Any]) -> tuple[str, TriggerConfig] | None:
    """The trigger of a file with problems elsewhere, if the trigger itself is valid."""
    try:
        return AnyTrigger.model_validate(data, context=context).unwrap()
    except ValidationError:
        return None


def _route_key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def _cross_file_problems(parsed: list[_Parsed], display: dict[Path, str]) -> list[LoadProblem]:
    """Clashes between files: process names, routes, and operations of shared endpoints."""
    problems: list[LoadProblem] = []
    names: dict[str, Path] = {}
    routes: dict[tuple[str, str], Path] = {}
    endpoints: dict[str, tuple[str, Path]] = {}  # path -> (contract, first file)
    members: dict[tuple[str, str], Path] = {}

    def clash(item: _Parsed, loc: Loc, message: str) -> None:
        problems.append(
            LoadProblem(display[item.path], line_of(loc, item.lines), format_loc(loc), message)
        )

    for item in parsed:
        name = item.name
        if name is not None and name in names:
            clash(item, ("name",), f"process {name!r} is also defined in {display[names[name]]}")
        if name is not None:
            names.setdefault(name, item.path)
        if item.trigger is None:
            continue
        kind, trigger = item.trigger
        loc: Loc = ("trigger", kind, "path")
        route = trigger.route_key()
        if route is not None:
            key = _route_key(*route)
            if key in routes:
                clash(item, loc, f"{key[0]} {key[1]} is also the route of {display[routes[key]]}")
            routes.setdefault(key, item.path)
        endpoint = trigger.endpoint_key()
        if endpoint is not None:
            path, contract, member = endpoint
            first = endpoints.setdefault(path, (contract, item.path))
            if first[0] != contract:
                clash(item, loc, f"{path} serves another service in {display[first[1]]}")
            if (path, member) in members:
                other = display[members[(path, member)]]
                clash(item, loc, f"operation {member!r} at {path} is also served by {other}")
            members.setdefault((path, member), item.path)
    for item in parsed:
        if item.trigger is None:
            continue
        kind, trigger = item.trigger
        route = trigger.route_key()
        if route is not None and _route_key(*route)[1] in {_route_key("", p)[1] for p in endpoints}:
            clash(item, ("trigger", kind, "path"), f"{route[1]} is a SOAP endpoint's path")
    return problems


def _access_problems(
    parsed: list[_Parsed], display: dict[Path, str], security: SecurityConfig
) -> list[LoadProblem]:
    """Nothing is open unless configured: a listener declares `auth:` (or `auth: none`),
    or security.yaml gives a default."""
    if security.defaults.auth is not None:
        return []
    problems = []
    for item in parsed:
        if item.trigger is None:
            continue
        kind, trigger = item.trigger
        if "auth" in type(trigger).model_fields and getattr(trigger, "auth", None) is None:
            loc: Loc = ("trigger", kind)
            problems.append(
                LoadProblem(
                    display[item.path],
                    line_of(loc, item.lines),
                    format_loc(loc),
                    "a listener declares `auth:` (api_key, basic, jwt, signature, mtls) or "
                    "`auth: none` for a public endpoint; security.yaml can set a default",
                )
            )
    return problems


def validate_directory(directory: Path) -> tuple[list[Process], list[LoadProblem]]:
    """Load the connections and every process file; return the processes and every
    problem found."""
    processes, _, problems = load_directory(directory)
    return processes, problems


def validate_path(path: Path) -> tuple[list[Process], list[LoadProblem]]:
    """`wharf validate PATH`: a directory, or one file checked with its directory's
    connections.yaml and security.yaml (naming one of those checks just it)."""
    if not path.is_file():
        return validate_directory(path)
    if path.name in (*CONNECTIONS_FILES, *SECURITY_FILES):
        processes, _, problems = load_directory(path.parent, files=[])
    else:
        processes, _, problems = load_directory(path.parent, files=[path])
    return processes, problems


def load_directory(
    directory: Path, files: list[Path] | None = None
) -> tuple[list[Process], dict[str, Any], list[LoadProblem]]:
    """Processes, connection configs, and every problem found; `files` picks some of
    the directory's process files (default: all)."""
    if not directory.is_dir():
        return [], {}, [LoadProblem(str(directory), 1, "", "not a directory")]
    refused: dict[str, str] = {}
    connections, problems = load_connections(directory, refused)
    security, security_problems = load_security(directory)
    problems.extend(security_problems)
    named = files is not None
    files = process_files(directory) if files is None else files
    display = {path: str(path) for path in files}
    parsed: list[_Parsed] = []
    for path in files:
        item, file_problems = _parse_file(path, display[path], connections, refused)
        problems.extend(file_problems)
        if item is not None:
            parsed.append(item)
    problems.extend(_cross_file_problems(parsed, display))
    if not security_problems:  # a broken security.yaml would report every listener again
        problems.extend(_access_problems(parsed, display, security))
    if not files and not named:
        problems.append(LoadProblem(str(directory), 1, "", "no process files (*.yaml) found"))
    processes = [Process(item.definition, item.path) for item in parsed if item.definition]
    return processes, connections, problems


def load_processes(directory: Path) -> list[Process]:
    processes, problems = validate_directory(directory)
    if problems:
        raise ProcessLoadError(problems)
    return processes
