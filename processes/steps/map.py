"""`map`: build a new JSON document from expressions over the current one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.errors import DocumentError, NestedConfigError
from runtime.core.expressions import (
    Evaluable,
    Expression,
    Literal,
    Template,
    is_template,
    variables,
)

if TYPE_CHECKING:
    from runtime.core.components import StepContext


Loc = tuple[str | int, ...]
EACH, FIELDS = "$each", "$fields"


@dataclass(frozen=True, slots=True)
class _Each:
    """A repeating part: `$fields` evaluated once per item of `$each`, as `item`/`index`."""

    items: Expression
    fields: Any


Problems = list[tuple[Loc, str]]


def _compile(
    value: Any, loc: Loc, namespaces: dict[str, str], names: frozenset[str], problems: Problems
) -> Any:
    """Compile a map shape: mappings and lists nest, strings are expressions/templates.
    Problems are collected, not raised, so every bad field is reported at once."""
    if isinstance(value, dict) and EACH in value:
        if set(value) != {EACH, FIELDS}:
            problems.append((loc, f"a repeating part has exactly the keys {EACH} and {FIELDS}"))
            return None
        items = _compile(value[EACH], (*loc, EACH), namespaces, names, problems)
        if not isinstance(items, Expression):
            problems.append(((*loc, EACH), f"{EACH} is an expression yielding a list"))
        inner = names | {"item", "index"}
        return _Each(items, _compile(value[FIELDS], (*loc, FIELDS), namespaces, inner, problems))
    if isinstance(value, dict):
        return {
            key: _compile(item, (*loc, key), namespaces, names, problems)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _compile(item, (*loc, i), namespaces, names, problems) for i, item in enumerate(value)
        ]
    if isinstance(value, str):
        try:
            if is_template(value):
                return Template(value, namespaces, extra_names=names)
            return Expression(value, namespaces, extra_names=names)
        except ValueError as exc:
            problems.append((loc, str(exc)))
            return None
    return Literal(value)


def _evaluate(shape: Any, names: dict[str, Any]) -> Any:
    if isinstance(shape, dict):
        return {key: _evaluate(item, names) for key, item in shape.items()}
    if isinstance(shape, list):
        return [_evaluate(item, names) for item in shape]
    if isinstance(shape, _Each):
        items = shape.items.evaluate(names)
        if not isinstance(items, list | tuple):
            raise DocumentError(
                f"{EACH} {shape.items.source!r} gave {type(items).__name__}, not a list"
            )
        return [
            _evaluate(shape.fields, {**names, "item": item, "index": index})
            for index, item in enumerate(items)
        ]
    evaluable: Evaluable = shape
    return evaluable.evaluate(names)


@registry.step("map")
class MapStep(Step):
    """Build a new JSON document. Nested mappings and lists keep their shape; each string is
    an expression (or a template when it contains `{{ }}`), other scalars are literals. A
    mapping `{$each: <list expression>, $fields: <shape>}` repeats the shape per item, which
    it sees as `item` (and its position as `index`)."""

    fields: dict[str, Any] = Field(
        description="The new document's shape, e.g. `{id: doc.order_id, total: doc.amount * 1.2}`."
    )

    @field_validator("fields", mode="after")
    @classmethod
    def _compile_fields(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        namespaces = (info.context or {}).get("namespaces") or {}
        problems: Problems = []
        compiled: dict[str, Any] = _compile(value, (), namespaces, frozenset(), problems)
        if problems:
            raise NestedConfigError(problems)
        return compiled

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [
            Document.json(_evaluate(self.fields, variables(document)), document.properties)
            for document in documents
        ]
