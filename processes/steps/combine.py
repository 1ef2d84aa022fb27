"""`combine`: merge all current documents into one."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal

from lxml import etree
from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("combine")
class CombineStep(Step):
    """Combine all documents into one: a JSON array, an XML wrapper element, or joined text.
    The result keeps the first document's properties; no documents in, none out."""

    format: Literal["auto", "json", "xml", "text"] = Field(
        "auto", description="How to combine; `auto` follows the first document's kind."
    )
    root: str = Field(
        "Documents",
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="Wrapper element name for `xml`.",
    )
    separator: str = Field("\n", description="Text placed between bodies for `text`.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        if not documents:
            return []
        first = documents[0]
        fmt: str = self.format
        if fmt == "auto":
            fmt = {BodyKind.JSON: "json", BodyKind.XML: "xml"}.get(first.kind, "text")
        if fmt == "json":
            if any(doc.kind is not BodyKind.JSON for doc in documents):
                raise DocumentError("combine json needs JSON documents")
            return [
                first.derive([doc.body for doc in documents], BodyKind.JSON, "application/json")
            ]
        if fmt == "xml":
            wrapper = etree.Element(self.root)
            for doc in documents:
                if doc.kind is not BodyKind.XML:
                    raise DocumentError("combine xml needs XML documents")
                wrapper.append(copy.deepcopy(doc.body))
            return [first.derive(wrapper, BodyKind.XML, "application/xml")]
        texts = []
        for doc in documents:
            if doc.kind is BodyKind.TEXT:
                texts.append(doc.body)
            elif doc.kind is BodyKind.RAW:
                texts.append(doc.body.decode("utf-8", errors="replace"))
            else:
                raise DocumentError(f"combine text needs text or raw documents, not {doc.kind}")
        return [first.derive(self.separator.join(texts), BodyKind.TEXT, first.media_type)]
