"""XSD and JSON Schema, loaded and compiled once per file at process load.

XSDs are read by xmlschema with `allow="local"` (imports and includes from local files
only, never the network) and `defuse="always"` (no entity expansion).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import xmlschema
from lxml import etree

from runtime.errors import DocumentError

MAX_REPORTED = 10


class ValidationFailed(DocumentError):
    problem = "validation-failed"
    title = "Validation failed"

    def __init__(self, errors: list[str], status: int = 400):
        self.errors = errors[:MAX_REPORTED]
        more = len(errors) - len(self.errors)
        detail = "; ".join(self.errors) + (f"; and {more} more" if more > 0 else "")
        super().__init__(detail, status=status)


def resolve(base_dir: Path | None, name: str) -> Path:
    return ((base_dir or Path(".")) / name).resolve()


@lru_cache(maxsize=128)
def load_xsd(path: Path) -> xmlschema.XMLSchema:
    """A compiled XSD (cached: a schema shared by several steps loads once)."""
    try:
        return xmlschema.XMLSchema(str(path), allow="local", defuse="always")
    except (xmlschema.XMLSchemaException, OSError, etree.ParseError) as exc:
        raise ValueError(f"cannot load XSD {path.name}: {_first_line(exc)}") from None


def xsd_errors(schema: xmlschema.XMLSchemaBase, element: etree._Element) -> list[str]:
    return [f"{error.path or '/'}: {_reason(error)}" for error in schema.iter_errors(element)]  # type: ignore[arg-type]


def _reason(error: xmlschema.XMLSchemaValidationError) -> str:
    return str(error.reason or error.message).splitlines()[0]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def load_json_schema(source: Path | dict[str, Any]) -> jsonschema.protocols.Validator:
    if isinstance(source, Path):
        try:
            schema = orjson.loads(source.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"cannot load JSON Schema {source.name}: {exc}") from None
    else:
        schema = source
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def json_errors(validator: jsonschema.protocols.Validator, value: Any) -> list[str]:
    errors: Iterable[jsonschema.ValidationError] = validator.iter_errors(value)
    return [f"{error.json_path}: {error.message}" for error in sorted(errors, key=lambda e: e.path)]
