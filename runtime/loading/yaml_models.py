"""Validating a YAML file into a pydantic model, with every problem located by line.

Shared by process files and `connections.yaml`: problems print as
`file:line yaml.path: message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from runtime.core.errors import NestedConfigError
from runtime.core.secrets import LiteralSecretError, redact_text
from runtime.core.suggest import fields_at, unknown_field
from runtime.loading.yaml_lines import Loc, file_loc, format_loc, line_of, load_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)
_EXTRA = "Extra inputs are not permitted"


@dataclass(frozen=True)
class LoadProblem:
    file: str
    line: int
    loc: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"


@dataclass
class YamlFile:
    path: Path
    display: str
    data: Any
    lines: dict[Loc, int]

    def problem(self, loc: Loc, message: str) -> LoadProblem:
        loc = file_loc(loc, self.lines)
        return LoadProblem(self.display, line_of(loc, self.lines), format_loc(loc), message)


def read_yaml_file(path: Path, display: str) -> tuple[YamlFile | None, list[LoadProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [LoadProblem(display, 1, "", f"cannot read the file: {exc}")]
    try:
        data, lines, yaml_problems = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, [LoadProblem(display, line, "", f"invalid YAML: {exc.problem}")]
    except yaml.YAMLError as exc:
        return None, [LoadProblem(display, 1, "", f"invalid YAML: {exc}")]
    problems = [LoadProblem(display, p.line, format_loc(p.loc), p.message) for p in yaml_problems]
    return YamlFile(path, display, data, lines), problems


def validation_problems(
    file: YamlFile, exc: ValidationError, prefix: Loc = (), model: type[BaseModel] | None = None
) -> list[LoadProblem]:
    """One problem per error, at its path; `model` (validated at `prefix`) names the fields
    a misspelt one may have meant."""
    problems = []
    for error in exc.errors():
        loc: Loc = (*prefix, *error["loc"])
        message = error["msg"]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, NestedConfigError):
            for sub_loc, sub_message in cause.errors:
                sub_problem = (*error["loc"], *sub_loc)
                sub_message = _worded(sub_message, sub_problem, model)
                problems.append(file.problem((*loc, *sub_loc), redact_text(sub_message)))
            continue
        if isinstance(cause, LiteralSecretError):
            loc = (*loc, *cause.field)
        message = _worded(message, error["loc"], model)
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        # A secret resolved during validation must not come back in the message.
        problems.append(file.problem(loc, redact_text(message)))
    return problems


def _worded(message: str, loc: Loc, model: type[BaseModel] | None) -> str:
    """pydantic's "Extra inputs are not permitted" as "unknown field `x`; did you mean..."."""
    if message != _EXTRA or not loc or not isinstance(loc[-1], str):
        return message
    known = fields_at(model, loc[:-1]) if model is not None else None
    return unknown_field(loc[-1], known)


def validate_file(
    file: YamlFile, model: type[ModelT], context: dict[str, Any]
) -> tuple[ModelT | None, list[LoadProblem]]:
    try:
        return model.model_validate(file.data, context=context), []
    except ValidationError as exc:
        return None, validation_problems(file, exc, model=model)
