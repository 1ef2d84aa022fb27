"""`serialize`: turn a JSON value or an XML tree back into bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.formats.codecs import serialize_json, serialize_xml

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("serialize")
class SerializeStep(Step):
    """Serialize each document's JSON value or XML tree to a raw body with its media type."""

    format: Literal["json", "xml"] = Field(description="The format to write.")
    pretty: bool = Field(False, description="Indent the output.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [self._serialize(document) for document in documents]

    def _serialize(self, document: Document) -> Document:
        if self.format == "json":
            if document.kind is not BodyKind.JSON:
                raise DocumentError(f"serialize json needs a JSON document, not {document.kind}")
            body = serialize_json(document.body, pretty=self.pretty)
            return document.derive(body, BodyKind.RAW, "application/json")
        if document.kind is not BodyKind.XML:
            raise DocumentError(f"serialize xml needs an XML document, not {document.kind}")
        body = serialize_xml(document.body, pretty=self.pretty)
        return document.derive(body, BodyKind.RAW, "application/xml")
