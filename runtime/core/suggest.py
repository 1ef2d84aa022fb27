""" "Did you mean" for misspelt names in YAML: fields, step and trigger kinds, connectors.

The known names come from the models themselves (a field's YAML name is its alias), found
by walking the model's annotations along the path of the problem.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

Loc = tuple[str | int, ...]


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name`, if one is close enough to be a typo of it."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_name(what: str, name: str, known: Sequence[str], list_label: str = "known") -> str:
    """`unknown step kind 'mapp'; did you mean `map`?`, else the known names."""
    match = closest(name, known)
    if match is not None:
        return f"unknown {what} {name!r}; did you mean `{match}`?"
    return f"unknown {what} {name!r}; {list_label}: {', '.join(sorted(known))}"


def unknown_field(name: str, known: Sequence[str] | None) -> str:
    if not known:
        return f"unknown field `{name}`"
    match = closest(name, known)
    if match is not None:
        return f"unknown field `{name}`; did you mean `{match}`?"
    return f"unknown field `{name}` (fields: {', '.join(known)})"


def field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def fields_at(annotation: Any, loc: Loc) -> list[str] | None:
    """The field names of the model found at `loc` below `annotation`, if one is found."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not loc:
            return field_names(annotation)
        for name, field in annotation.model_fields.items():
            if loc[0] in (name, field.alias):
                return fields_at(field.annotation, loc[1:])
        return None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        for arm in args:  # the path as it is, or with the union member's tag first
            found = fields_at(arm, loc)
            if found is None and loc and _tags(arm, loc[0]):
                found = fields_at(arm, loc[1:])
            if found is not None:
                return found
        return None
    if not loc:
        return None
    if origin in (list, tuple, Sequence) and isinstance(loc[0], int) and args:
        return fields_at(args[0], loc[1:])
    if origin is dict and len(args) == 2:
        return fields_at(args[1], loc[1:])
    return None


def _tags(arm: Any, part: str | int) -> bool:
    """Whether pydantic names this union member `part` in an error's path (its class
    name, or the value of its discriminator)."""
    if not (isinstance(arm, type) and issubclass(arm, BaseModel)):
        return False
    if part == arm.__name__:
        return True
    for field in arm.model_fields.values():
        if get_origin(field.annotation) is Literal and part in get_args(field.annotation):
            return True
    return False
