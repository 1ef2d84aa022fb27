"""Shared helpers for unit tests: process files written to a temporary directory.

YAML text is dedented and its leading blank lines dropped, so line 1 of a test string
is line 1 of the file (tests assert `file:line` positions).
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from runtime.core.document import Document
from runtime.core.engine import ExecutionResult, Process
from runtime.loading.loader import LoadProblem, load_processes, validate_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings

Client = TestClient[Any, Any]
ClientFactory = Callable[..., Awaitable[Client]]

# Apps under test take this admin key (Settings.admin_key); admin_client sends it.
from tests.serverproc import ADMIN, ADMIN_KEY  # noqa: E402


def echo_soap_process(trigger_extra: str = "") -> str:
    """A declared SOAP service `echo(text) -> text` at /soap/echo behind an API key;
    `trigger_extra` adds trigger lines (4-space indented YAML, newline-terminated)."""
    return (
        "name: echo\ntrigger:\n  soap:\n    path: /soap/echo\n    service: Echo\n"
        "    namespace: 'urn:echo'\n    operation: echo\n    input: {text: string}\n"
        f"    output: {{text: string}}\n    auth: {{api_key: {{}}}}\n{trigger_extra}"
        "steps:\n  - map: {fields: {text: doc.text}}\n"
    )


async def admin_client(factory: ClientFactory, app: Any, **kwargs: Any) -> Client:
    """A test client whose every request carries the admin key (the admin API needs it;
    listeners with `auth: none` ignore it)."""
    headers = {**ADMIN, **kwargs.pop("headers", {})}
    return await factory(app, headers=headers, **kwargs)


_counter = itertools.count()


def yaml_text(text: str) -> str:
    """Dedented YAML whose first line is the first non-blank line of `text`."""
    return textwrap.dedent(text).lstrip("\n")


def write_files(directory: Path, files: dict[str, str]) -> Path:
    """Write `{name: yaml text}` into `directory` (created if needed); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(yaml_text(text), encoding="utf-8")
    return directory


def fresh_dir(tmp_path: Path) -> Path:
    """A new empty subdirectory, so one test can load several process directories."""
    directory = tmp_path / f"p{next(_counter)}"
    directory.mkdir()
    return directory


def validate_files(tmp_path: Path, files: dict[str, str]) -> tuple[list[Process], list[str]]:
    """validate_directory over the files; problems as strings relative to the directory."""
    directory = write_files(fresh_dir(tmp_path), files)
    processes, problems = validate_directory(directory)
    return processes, [relative(problem, directory) for problem in problems]


def relative(problem: LoadProblem, directory: Path) -> str:
    return str(problem).replace(f"{directory}/", "")


def load_process(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Process:
    """Load a one-process directory from YAML text (and any extra `files` beside it)."""
    directory = fresh_dir(tmp_path)
    for name, content in (files or {}).items():
        (directory / name).write_text(content, encoding="utf-8")
    write_files(directory, {"process.yaml": text})
    (process,) = load_processes(directory)
    return process


def steps_process(
    tmp_path: Path,
    steps: str,
    *,
    namespaces: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> Process:
    """A process with an HTTP trigger and the given `steps:` list (YAML, any indent)."""
    header = "name: under-test\ntrigger:\n  http: {auth: none, path: /under-test}\n"
    if namespaces:
        header += "namespaces:\n" + "".join(f"  {k}: '{v}'\n" for k, v in namespaces.items())
    body = textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
    return load_process(tmp_path, header + "steps:\n" + body + "\n", files)


async def run_steps(
    tmp_path: Path, steps: str, *documents: Document, namespaces: dict[str, str] | None = None
) -> ExecutionResult:
    """Load a process with these steps and execute it over the documents."""
    process = steps_process(tmp_path, steps, namespaces=namespaces)
    return await process.execute(list(documents))


async def app_client(
    aiohttp_client: ClientFactory, tmp_path: Path, files: dict[str, str], **settings: Any
) -> Client:
    """An in-process client for an app serving the given process files (in-memory store)."""
    directory = write_files(fresh_dir(tmp_path), files)
    processes = load_processes(directory)
    return await admin_client(
        aiohttp_client,
        create_app(processes, Settings(admin_key=ADMIN_KEY, store="sqlite://", **settings)),
    )
