"""`validate`: check documents against an XSD (XML) or a JSON Schema (JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jsonschema.protocols import Validator
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.core.offload import off_loop
from runtime.formats.schemas import (
    ValidationFailed,
    XsdValidator,
    json_errors,
    load_json_schema,
    load_xsd_validator,
    resolve,
)

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("validate")
class ValidateStep(Step):
    """Validate each document: XML against an XSD, JSON against a JSON Schema. The first
    errors are reported with their paths (up to 10), and the execution fails with `status`.
    Validation runs off the event loop, within the server's `work_budget`."""

    xsd: str | None = Field(None, description="XSD file, relative to the process file.")
    json_schema: str | dict[str, Any] | None = Field(
        None, description="JSON Schema: a file relative to the process file, or inline."
    )
    status: int = Field(
        400, ge=400, le=599, description="HTTP status of the failure (400: the caller's fault)."
    )

    _xsd: XsdValidator | None = PrivateAttr(None)
    _json: Validator | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> ValidateStep:
        if (self.xsd is None) == (self.json_schema is None):
            raise ValueError("give exactly one of `xsd` or `json_schema`")
        base = (info.context or {}).get("base_dir")
        if self.xsd is not None:
            self._xsd = load_xsd_validator(resolve(base, self.xsd))
        elif isinstance(self.json_schema, str):
            self._json = load_json_schema(resolve(base, self.json_schema))
        elif self.json_schema is not None:
            self._json = load_json_schema(self.json_schema)
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        # One thread hop for all documents; the first invalid one ends the work.
        found = await off_loop(lambda: self._first_errors(documents))
        if found is not None:
            index, errors = found
            prefix = f"document {index}: " if len(documents) > 1 else ""
            raise ValidationFailed([prefix + error for error in errors], self.status)
        return documents

    def _first_errors(self, documents: list[Document]) -> tuple[int, list[str]] | None:
        for index, document in enumerate(documents):
            errors = self._errors(document)
            if errors:
                return index, errors
        return None

    def _errors(self, document: Document) -> list[str]:
        if self._xsd is not None:
            if document.kind is not BodyKind.XML:
                raise DocumentError(f"XSD validation needs an XML document, not {document.kind}")
            return self._xsd.errors(document.body)
        assert self._json is not None
        if document.kind is not BodyKind.JSON:
            raise DocumentError(
                f"JSON Schema validation needs a JSON document, not {document.kind}"
            )
        return json_errors(self._json, document.body)
