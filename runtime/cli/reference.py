"""The JSON Schema of the DSL and the component reference, both from the registry."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model

from runtime.core import registry
from runtime.core.definitions import ProcessDefinition
from runtime.core.response_config import ResponseConfig
from runtime.security.config import SecurityConfig

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _document(kind: str, model: type[BaseModel]) -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"urn:wharf:schema:{kind}", **model.model_json_schema()}


def process_json_schema() -> dict[str, Any]:
    """The schema of one process file, from the same models that validate it."""
    return _document("process", ProcessDefinition)


def connections_json_schema() -> dict[str, Any]:
    """The schema of `connections.yaml`: each entry by the model its `connector` names,
    as `runtime.loading.connections.load_connections` picks it."""
    kinds = tuple(registry.CONNECTORS[name] for name in sorted(registry.CONNECTORS))
    entry = Annotated[Union[kinds], Field(discriminator="connector")]  # type: ignore[valid-type]  # noqa: UP007
    model = create_model(
        "ConnectionsFile",
        __config__=ConfigDict(extra="forbid"),
        __doc__="`connections.yaml`: named connections, each of one connector kind.",
        connections=(dict[str, entry] | None, Field(None, description="name -> connection")),
    )
    return _document("connections", model)


def security_json_schema() -> dict[str, Any]:
    """The schema of `security.yaml`."""
    return _document("security", SecurityConfig)


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "process": process_json_schema,
    "connections": connections_json_schema,
    "security": security_json_schema,
}


def _type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"].rsplit("/", 1)[-1])
    if "enum" in prop:
        return " \\| ".join(f"`{value}`" for value in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop or "oneOf" in prop:  # oneOf: a discriminated union
        options = prop.get("anyOf") or prop["oneOf"]
        parts = [_type_text(p) for p in options if p.get("type") != "null"]
        return " \\| ".join(dict.fromkeys(parts))
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type_text(prop['additionalProperties'])}"
    return str(kind)


def _fields_table(model: type[BaseModel]) -> list[str]:
    schema = model.model_json_schema()
    if "$ref" in schema:  # recursive models (containers of steps) are emitted by reference
        schema = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if not props:
        return ["No options.", ""]
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        default = "required" if name in required else f"`{json.dumps(prop.get('default'))}`"
        if name not in required and "default" not in prop:
            default = ""
        description = str(prop.get("description", "")).replace("\n", " ").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type_text(prop)} | {default} | {description} |")
    lines.append("")
    return lines


def _section(name: str, model: type[BaseModel]) -> list[str]:
    doc = " ".join((model.__doc__ or "").split())
    return [f"### `{name}`", "", doc, "", *_fields_table(model)]


def _parts(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Nested config models (e.g. a route's branches), documented under their step."""
    found = []
    for field in model.model_fields.values():
        for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
            if (
                isinstance(arg, type)
                and issubclass(arg, BaseModel)
                and arg.__module__ == model.__module__
                and arg is not model
            ):
                found.append(arg)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds, however nested (`list[Annotated[A | B, ...]]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _users(connector: str) -> str:
    """Which steps and triggers take connections of `connector`."""
    found = [
        f"{kind} {', '.join(f'`{name}`' for name in names)}"
        for kind, table in (("steps", registry.STEPS), ("triggers", registry.TRIGGERS))
        if (
            names := sorted(n for n, c in table.items() if getattr(c, "connector", "") == connector)
        )
    ]
    return f"Used by {'; '.join(found)}." if found else ""


def _connectors() -> list[str]:
    """One section per connector kind: its connection fields, its nested models (URL
    variables, credential schemes...) and the steps and triggers that use it."""
    lines = [
        "## Connectors",
        "",
        "Connections in `connections.yaml`, each of one connector kind (`connector:`).",
        "",
    ]
    for name, model in sorted(registry.CONNECTORS.items()):
        lines += [f"### `{name}`", "", " ".join((model.__doc__ or "").split()), ""]
        if users := _users(name):
            lines += [users, ""]
        lines += _fields_table(model)
        parts = [p for f in model.model_fields.values() for p in _models_in(f.annotation)]
        for part in dict.fromkeys(parts):
            doc = " ".join((part.__doc__ or "").split())
            lines += [f"#### `{name}` / {part.__name__}", "", *([doc, ""] if doc else [])]
            lines += _fields_table(part)
    return lines


def component_reference() -> str:
    """Markdown reference of every trigger, step and connector; checked in as
    docs/components.md."""
    lines = [
        "# Component reference",
        "",
        "Generated by `wharf docs` from the component registry; do not edit by hand.",
        "",
        "## Process file",
        "",
        *_fields_table(ProcessDefinition),
        "### `response`",
        "",
        " ".join((ResponseConfig.__doc__ or "").split()),
        "",
        *_fields_table(ResponseConfig),
        "## Triggers",
        "",
    ]
    for name, trigger_cls in sorted(registry.TRIGGERS.items()):
        lines += _section(name, trigger_cls)
    lines += ["## Steps", ""]
    for name, step_cls in sorted(registry.STEPS.items()):
        lines += _section(name, step_cls)
        for part in _parts(step_cls):
            lines += [f"#### `{name}` / {part.__name__}", "", *_fields_table(part)]
    lines += _connectors()
    return "\n".join(lines).rstrip() + "\n"


README_STEPS_BEGIN = "<!-- steps: generated by `make docs` from the step docstrings -->"
README_STEPS_END = "<!-- /steps -->"


def _summary(cls: type[BaseModel]) -> str:
    """The first sentence of a component's docstring, fit for a table cell."""
    text = " ".join((cls.__doc__ or "").split())
    first = re.split(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z`])", text, maxsplit=1)[0].rstrip(".")
    return (first + ".").replace("|", "\\|")


def step_table() -> str:
    """The README's table of steps: one row per registered step, so a new step needs no
    README edit (`make docs` rewrites the table)."""
    rows = ["| step | does |", "|---|---|"]
    rows += [f"| `{name}` | {_summary(cls)} |" for name, cls in sorted(registry.STEPS.items())]
    return "\n".join(rows)


def with_step_table(readme: str) -> str:
    """`readme` with the text between the step-table markers replaced by `step_table()`."""
    head, begin, rest = readme.partition(README_STEPS_BEGIN)
    _, end, tail = rest.partition(README_STEPS_END)
    if not begin or not end:
        raise ValueError(f"the README has no {README_STEPS_BEGIN} ... {README_STEPS_END} block")
    return f"{head}{begin}\n{step_table()}\n{end}{tail}"
