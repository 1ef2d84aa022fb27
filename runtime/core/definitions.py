"""The process definition model, generated from the component registry.

`ProcessDefinition` is what one YAML file validates into. Its `steps` items and its
`trigger` are models generated here with one optional field per registered component,
so adding a component module is all it takes to extend the DSL, the JSON Schema and
the reference docs.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from runtime.core import registry
from runtime.core.components import StepEntry, TriggerConfig, single_key
from runtime.core.models import StrictModel
from runtime.core.response_config import ResponseConfig

registry.load_components()


class _StepEntryBase(StepEntry):
    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        return single_key(data, "step", list(registry.STEPS))

    @model_validator(mode="after")
    def _not_empty(self) -> _StepEntryBase:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a step needs its configuration (use {} for none)")
        return self


def _entry_fields(components: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """One optional field per component. Kinds that are not Python names (`sql.upsert`) or
    clash with a pydantic attribute (`validate`) get another Python name and keep theirs
    in YAML as the alias."""
    fields = {}
    for name, cls in sorted(components.items()):
        python_name = name.replace(".", "_")  # `sql.upsert` -> sql_upsert
        if hasattr(BaseModel, python_name):
            python_name += "_"
        description = (cls.__doc__ or "").strip()
        fields[python_name] = (cls | None, Field(default=None, alias=name, description=description))
    return fields


AnyStep: type[StepEntry] = create_model(
    "AnyStep",
    __base__=_StepEntryBase,
    __doc__="One step: a mapping with exactly one key, the step kind.",
    **_entry_fields(dict(registry.STEPS)),
)
AnyStep.model_config["json_schema_extra"] = {"minProperties": 1, "maxProperties": 1}


def _all_subclasses(cls: type[StrictModel]) -> list[type[StrictModel]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


# Container steps (route, try...) and their parts refer to `AnyStep` by name; resolve it.
for _cls in _all_subclasses(StrictModel):
    _cls.model_rebuild(force=True, _types_namespace={"AnyStep": AnyStep})
AnyStep.model_rebuild(force=True)


class TriggerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        return single_key(data, "trigger", list(registry.TRIGGERS))

    @model_validator(mode="after")
    def _not_empty(self) -> TriggerEntry:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a trigger needs its configuration (e.g. `http: {path: /orders}`)")
        return self

    def unwrap(self) -> tuple[str, TriggerConfig]:
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is not None:
                return field.alias or name, value
        raise ValueError("a trigger needs its configuration")


AnyTrigger: type[TriggerEntry] = create_model(
    "AnyTrigger",
    __base__=TriggerEntry,
    __doc__="What starts the process: a mapping with exactly one key, the trigger kind.",
    **_entry_fields(dict(registry.TRIGGERS)),
)
AnyTrigger.model_config["json_schema_extra"] = {"minProperties": 1, "maxProperties": 1}
AnyTrigger.model_rebuild(force=True)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ProcessDefinition(BaseModel):
    """One Wharf process: a trigger, steps and a response, from one YAML file."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(description="Unique process name (letters, digits, `_.-`).")
    description: str = Field("", description="What the process is for.")
    namespaces: dict[str, str] = Field(
        default_factory=dict,
        description="XML namespace prefixes for every XPath in this process.",
    )
    trigger: AnyTrigger = Field(description="What starts the process.")
    steps: list[AnyStep] = Field(
        default_factory=list, description="Steps, run in order over the documents."
    )
    record: Literal["full", "summary", "errors"] = Field(
        "summary",
        description="How much each execution record keeps: `full` (trace and input/output "
        "documents), `summary` (trace), `errors` (trace and input only for failures).",
    )
    redact: list[str] = Field(
        default_factory=list,
        description="JSON keys and property names whose values records show as `***`.",
    )
    response: ResponseConfig = Field(
        default_factory=lambda: ResponseConfig(), description="How the caller is answered."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a process name uses letters, digits, '_', '.', '-' only")
        return value
