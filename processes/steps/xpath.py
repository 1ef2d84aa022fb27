"""`xpath`: read values out of XML documents into properties, or select a subtree."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import Field, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.core.expressions import XPathField

if TYPE_CHECKING:
    from runtime.core.components import StepContext


def _value(result: Any) -> Any:
    """First match as text; numbers and booleans from XPath functions as they are."""
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    if isinstance(result, etree._Element):
        return result.xpath("string(.)")
    return str(result) if isinstance(result, str) else result


@registry.step("xpath")
class XPathStep(Step):
    """Set properties from XPath results (first match as text, or the number/boolean an
    XPath function returns), and/or make the first element `select` matches the document.
    Prefixes come from the process's `namespaces`."""

    properties: dict[str, XPathField] = Field(
        default_factory=dict, description="Property name -> XPath, e.g. `/po:order/@id`."
    )
    select: XPathField | None = Field(
        None, description="XPath of an element that becomes the new document."
    )

    @model_validator(mode="after")
    def _something(self) -> XPathStep:
        if not self.properties and self.select is None:
            raise ValueError("give `properties`, `select` or both")
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [self._apply(document) for document in documents]

    def _apply(self, document: Document) -> Document:
        if document.kind is not BodyKind.XML:
            raise DocumentError(f"xpath needs an XML document, not {document.kind}")
        root = document.body
        for name, path in self.properties.items():
            document.properties[name] = _value(path(root))
        if self.select is None:
            return document
        found = self.select(root)
        element = found[0] if isinstance(found, list) and found else None
        if not isinstance(element, etree._Element):
            raise DocumentError(f"select {self.select.path!r} matched no element")
        return document.derive(copy.deepcopy(element), BodyKind.XML, document.media_type)
