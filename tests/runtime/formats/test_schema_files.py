"""`wharf schema`: the JSON Schemas accept every file the loader accepts.

The files are every YAML file under sample_processes/ and every process, connections and
security fixture written in the tests (string constants that parse as such a file). A
fixture the models accept must pass its schema; the schemas still refuse mistakes.
"""

from __future__ import annotations

import ast
import functools
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from runtime.cli.main import main
from runtime.cli.reference import SCHEMAS
from runtime.core import registry
from runtime.loading.connections import load_connections
from runtime.loading.loader import validate_directory
from runtime.loading.security import load_security
from tests.helpers import fresh_dir

ROOT = Path(__file__).resolve().parents[3]
SECURITY_KEYS = {"defaults", "users", "admin", "metrics"}
STEPS_PROCESS = "name: steps\ntrigger:\n  http: {auth: none, path: /steps}\nsteps:\n"


@functools.cache
def _validator(kind: str) -> jsonschema.Draft202012Validator:
    document = SCHEMAS[kind]()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"] == f"urn:wharf:schema:{kind}"
    return jsonschema.Draft202012Validator(document)


def schema(kind: str, capsys: pytest.CaptureFixture[str] | None = None) -> Any:
    """The validator of `wharf schema <kind>` (printed once per test that passes capsys)."""
    if capsys is not None:
        assert main(["schema", kind]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        assert json.loads(out) == SCHEMAS[kind]()
    return _validator(kind)


def kind_of(data: Any) -> str | None:
    if isinstance(data, list) and data and all(_a_step(item) for item in data):
        return "steps"  # a `steps:` list for tests.helpers.steps_process
    if not isinstance(data, dict) or not data:
        return None
    if "trigger" in data and "name" in data:
        return "process"
    if set(data) == {"connections"} and isinstance(data["connections"], dict):
        return "connections"
    if set(data) <= SECURITY_KEYS:
        return "security"
    return None


def _a_step(item: Any) -> bool:
    return isinstance(item, dict) and len(item) == 1 and next(iter(item)) in registry.STEPS


def _strings(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            yield node.value


def fixtures_in_tests() -> Iterator[tuple[str, str, str]]:
    """(where, kind, yaml text) of every fixture in the tests' source."""
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for text in _strings(path):
            text = textwrap.dedent(text).lstrip("\n")
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            kind = kind_of(data)
            if kind == "steps":
                kind, text = "process", STEPS_PROCESS + textwrap.indent(text, "  ")
            if kind is not None:
                yield str(path.relative_to(ROOT)), kind, text


FILE_NAMES = {"process": "process.yaml", "connections": "connections.yaml"}


def loader_accepts(directory: Path, kind: str) -> bool:
    """Whether the loader (the models and their rules) accepts the file in `directory`."""
    if kind == "process":
        processes, problems = validate_directory(directory)
        # A process whose only problem is the access rule (no `auth:` and no security.yaml
        # in this directory) is valid as a file.
        return bool(processes) and all("declares `auth:`" in p.message for p in problems)
    if kind == "connections":
        return not load_connections(directory)[1]
    return not load_security(directory)[1]


def test_the_schemas_accept_every_sample_and_every_fixture_the_loader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validators = {kind: schema(kind, capsys) for kind in ("process", "connections", "security")}
    checked = dict.fromkeys(validators, 0)
    for path in sorted((ROOT / "sample_processes").rglob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        kind = kind_of(data)
        assert kind is not None, path
        errors = [f"{e.json_path}: {e.message}" for e in validators[kind].iter_errors(data)]
        assert errors == [], path
        checked[kind] += 1
    assert checked["process"] >= 9
    for where, kind, text in fixtures_in_tests():
        directory = fresh_dir(tmp_path)
        (directory / FILE_NAMES.get(kind, "security.yaml")).write_text(text, encoding="utf-8")
        if not loader_accepts(directory, kind):
            continue  # a fixture of a mistake, or one that needs files beside it
        data = yaml.safe_load(text)
        errors = [f"{e.json_path}: {e.message}" for e in validators[kind].iter_errors(data)]
        assert errors == [], f"{where}:\n{text}"
        checked[kind] += 1
    # The collection finds the tests' fixtures (not just a handful).
    assert checked["process"] > 80, checked
    assert checked["connections"] >= 5, checked
    assert checked["security"] >= 2, checked


HTTP = {"http": {"path": "/wait", "auth": "none"}}


@pytest.mark.parametrize(
    "every", ["1m", "10s", "100ms", "1.5h", "2d", " 5 s ", 30, 0.25, "30"], ids=str
)
def test_the_process_schema_takes_every_duration_the_loader_takes(
    every: object, tmp_path: Path
) -> None:
    validator = schema("process")
    process = {"name": "wait", "trigger": HTTP, "steps": [{"delay": {"duration": every}}]}
    assert validator.is_valid(process)
    directory = fresh_dir(tmp_path)
    (directory / "wait.yaml").write_text(yaml.safe_dump(process), encoding="utf-8")
    assert validate_directory(directory)[1] == []


@pytest.mark.parametrize("every", ["1 minute", "-5s", -1, "m", "10x", True], ids=str)
def test_the_process_schema_refuses_what_the_loader_refuses(every: object, tmp_path: Path) -> None:
    validator = schema("process")
    process = {"name": "wait", "trigger": HTTP, "steps": [{"delay": {"duration": every}}]}
    assert not validator.is_valid(process)
    directory = fresh_dir(tmp_path)
    (directory / "wait.yaml").write_text(yaml.safe_dump(process), encoding="utf-8")
    assert validate_directory(directory)[1] != []


def test_the_schemas_refuse_mistakes(capsys: pytest.CaptureFixture[str]) -> None:
    process = schema("process", capsys)
    http = {"http": {"path": "/x", "auth": "none"}}
    assert process.is_valid(
        {"name": "x", "trigger": http, "steps": [{"delay": {"duration": "2s"}}]}
    )
    assert not process.is_valid({"name": "x", "trigger": http, "steps": [{"mapp": {}}]})
    assert not process.is_valid({"name": "x", "trigger": {"htp": {"path": "/x"}}})
    bad_delay = {"name": "x", "trigger": http, "steps": [{"delay": {"duration": "soon"}}]}
    assert not process.is_valid(bad_delay)

    connections = schema("connections", capsys)
    sftp = {"connector": "sftp", "host": "h", "username": "u", "timeout": "10s"}
    assert connections.is_valid({"connections": {"partner": sftp}})
    assert not connections.is_valid({"connections": {"partner": {**sftp, "hots": "h"}}})
    assert not connections.is_valid({"connections": {"partner": {"connector": "smtp"}}})
    assert not connections.is_valid({"connection": {}})

    security = schema("security", capsys)
    assert security.is_valid({"defaults": {"auth": {"api_key": {}}}, "metrics": "open"})
    assert not security.is_valid({"defaults": {"auth": {"api_kye": {}}}})
    assert not security.is_valid({"metrics": "public"})


def test_schema_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "connections.schema.json"
    assert main(["schema", "connections", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["$id"] == "urn:wharf:schema:connections"


def test_every_connector_is_in_the_connections_schema_with_its_fields_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "connections"]) == 0
    document = json.loads(capsys.readouterr().out)
    entry = document["properties"]["connections"]["anyOf"][0]["additionalProperties"]
    kinds = {
        kind: ref.rsplit("/", 1)[-1] for kind, ref in entry["discriminator"]["mapping"].items()
    }
    registry.load_components()
    assert set(kinds) == set(registry.CONNECTORS) >= {"file", "ftp", "http", "sftp", "soap", "sql"}
    undocumented = [
        f"{model}.{field}"
        for model, definition in document["$defs"].items()
        for field, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undocumented == []
    assert all(document["$defs"][model].get("description") for model in kinds.values())
