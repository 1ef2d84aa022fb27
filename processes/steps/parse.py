"""`parse`: turn a raw or text body into a JSON value or an XML tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from runtime import registry
from runtime.codecs import parse_json, parse_xml
from runtime.components import Step
from runtime.document import BodyKind, Document
from runtime.errors import DocumentError

if TYPE_CHECKING:
    from runtime.engine import Execution


@registry.step("parse")
class ParseStep(Step):
    """Parse each document's raw/text body as JSON or XML (hardened: no DTDs, no entities)."""

    format: Literal["json", "xml"] = Field(description="The format the body is in.")

    async def run(self, documents: list[Document], execution: Execution) -> list[Document]:
        return [self._parse(document) for document in documents]

    def _parse(self, document: Document) -> Document:
        if document.kind not in (BodyKind.RAW, BodyKind.TEXT):
            raise DocumentError(f"parse needs a raw or text body, this document is {document.kind}")
        if self.format == "json":
            return document.derive(parse_json(document.body), BodyKind.JSON, "application/json")
        return document.derive(parse_xml(document.body), BodyKind.XML, "application/xml")
