"""runtime.cli.main: exit codes and output of `wharf validate`, `schema`, `docs` and `run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from runtime.cli.main import main
from runtime.cli.reference import component_reference
from runtime.core import registry
from runtime.loading.loader import process_files
from tests.helpers import fresh_dir, write_files

ROOT = Path(__file__).resolve().parents[3]


def schema_from_cli(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    schema: dict[str, Any] = json.loads(out)
    return schema


def test_schema_is_valid_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema = schema_from_cli(capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:wharf:schema:process"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == ["name", "trigger"]
    assert schema["additionalProperties"] is False


def test_schema_names_every_registered_step_and_trigger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    schema = schema_from_cli(capsys)
    assert schema["properties"]["steps"]["items"] == {"$ref": "#/$defs/AnyStep"}
    any_step = schema["$defs"]["AnyStep"]
    assert set(any_step["properties"]) == set(registry.STEPS)
    assert (any_step["minProperties"], any_step["maxProperties"]) == (1, 1)
    assert any_step["additionalProperties"] is False
    for name, cls in registry.STEPS.items():
        ref = {"$ref": f"#/$defs/{cls.__name__}"}
        assert ref in any_step["properties"][name]["anyOf"], name
        assert cls.__name__ in schema["$defs"]
    any_trigger = schema["$defs"]["AnyTrigger"]
    assert set(any_trigger["properties"]) == set(registry.TRIGGERS)
    assert "http" in registry.TRIGGERS
    http = schema["$defs"]["HttpTrigger"]
    assert http["required"] == ["path"]
    assert http["properties"]["input"]["enum"] == [
        "none",
        "raw",
        "json",
        "xml",
        "form",
        "json_multiple",
    ]


def test_schema_accepts_the_samples_and_refuses_mistakes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    validator = jsonschema.Draft202012Validator(schema_from_cli(capsys))
    samples = process_files(ROOT / "sample_processes")
    assert samples
    for sample in samples:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(sample.read_text()))]
        assert errors == [], sample.name
    http = {"http": {"path": "/x"}}
    assert not validator.is_valid({"name": "x", "trigger": http, "steps": [{"mapp": {}}]})
    two_kinds: dict[str, Any] = {"set": {"properties": {}}, "map": {"fields": {}}}
    assert not validator.is_valid({"name": "x", "trigger": http, "steps": [two_kinds]})
    assert not validator.is_valid({"name": "x", "trigger": {"http": {}}})
    assert not validator.is_valid({"name": "x", "trigger": http, "extra": 1})
    assert not validator.is_valid({"name": "x", "trigger": http, "steps": [{"split": {"x": 1}}]})
    assert validator.is_valid(
        {"name": "x", "trigger": http, "steps": [{"set": {"properties": {}}}]}
    )


def test_docs_to_stdout_and_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs"]) == 0
    out, _ = capsys.readouterr()
    assert out == component_reference()
    assert out.startswith("# Component reference\n")
    target = tmp_path / "components.md"
    assert main(["docs", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == out


def test_validate_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_files(
        fresh_dir(tmp_path), {"ok.yaml": "name: ok\ntrigger: {http: {auth: none, path: /ok}}\n"}
    )
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == "1 process(es) valid\n"
    bad = write_files(fresh_dir(tmp_path), {"bad.yaml": "name: bad\n"})
    assert main(["validate", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{bad}/bad.yaml:1 trigger: Field required\n"
    assert err == "1 problem(s) found\n"
    assert main(["validate", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'missing'}:1: not a directory\n"


def test_validate_the_samples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "sample_processes")]) == 0
    out = capsys.readouterr().out
    count = len(process_files(ROOT / "sample_processes"))
    assert out == f"{count} process(es) valid\n"


def test_run_refuses_an_invalid_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import runtime.server.serve

    def must_not_run(*args: object) -> None:  # pragma: no cover - the assertion
        raise AssertionError("the server must not start")

    monkeypatch.setattr(runtime.server.serve, "run", must_not_run)
    bad = write_files(fresh_dir(tmp_path), {"bad.yaml": "name: bad\n"})
    assert main(["run", str(bad), "--store", "sqlite://"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}/bad.yaml:1 trigger: Field required\n" in err
    assert err.endswith("not starting: 1 problem(s) found\n")


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["--port", "70000"], "setting port: Input should be less than or equal to 65535"),
        (["--shutdown-timeout", "soon"], "setting shutdown_timeout: Value error, a duration"),
        (["--max-body", "-1"], "setting max_body: Input should be greater than or equal to 0"),
    ],
)
def test_run_refuses_invalid_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], setting: str
) -> None:
    assert main(["run", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err.startswith(setting)


@pytest.mark.parametrize("argv", [[], ["nope"], ["validate"], ["run"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: wharf" in capsys.readouterr().err
