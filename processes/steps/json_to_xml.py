"""`json_to_xml`: a JSON document becomes an XML document."""

from __future__ import annotations

from typing import TYPE_CHECKING

import xmlschema
from lxml import etree
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.formats.schemas import ValidationFailed, load_xsd, resolve
from runtime.formats.xmljson import json_to_xml, strip_indentation

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("json_to_xml")
class JsonToXmlStep(Step):
    """Convert JSON to XML under a `root` element. With an XSD the document is encoded and
    checked against the schema (element order and types from the schema); without one it
    follows the README's convention (`@attr`, `#text`, lists as repeated elements)."""

    root: str | None = Field(
        None, description="Root element name; without it the document's single top key."
    )
    namespace: str | None = Field(None, description="Namespace of the elements.")
    xsd: str | None = Field(None, description="XSD file; `root` names one of its elements.")

    _xsd: xmlschema.XMLSchema | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> JsonToXmlStep:
        if self.xsd is not None:
            if self.root is None:
                raise ValueError("with `xsd`, give `root`: the element to encode")
            self._xsd = load_xsd(resolve((info.context or {}).get("base_dir"), self.xsd))
            if self.namespace is None:
                self.namespace = self._xsd.target_namespace or None
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [self._convert(document) for document in documents]

    def _convert(self, document: Document) -> Document:
        if document.kind is not BodyKind.JSON:
            raise DocumentError(f"json_to_xml needs a JSON document, not {document.kind}")
        if self._xsd is None:
            element = json_to_xml(document.body, self.root, self.namespace)
        else:
            try:
                element = self._xsd.encode(  # type: ignore[assignment]
                    document.body,
                    path=self.root,
                    namespaces={"": self.namespace or ""},
                    etree_element_class=etree.Element,
                    validation="strict",
                    indent=0,
                )
            except xmlschema.XMLSchemaValidationError as exc:
                reason = str(exc.reason or exc.message).splitlines()[0]
                raise ValidationFailed([f"{exc.path or '/' + str(self.root)}: {reason}"]) from None
        return document.derive(strip_indentation(element), BodyKind.XML, "application/xml")
