"""`split`: one document per item of a JSON expression result or per XPath match."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import Field, model_validator

from runtime import registry
from runtime.components import Step
from runtime.document import BodyKind, Document
from runtime.errors import DocumentError
from runtime.expressions import ExpressionField, XPathField, variables

if TYPE_CHECKING:
    from runtime.engine import Execution


@registry.step("split")
class SplitStep(Step):
    """Split each document into several: one per item of `items` (JSON) or per `xpath` match
    (XML). New documents keep the properties and get `split_index` and `split_count`."""

    items: ExpressionField | None = Field(
        None, description="Expression yielding a list, e.g. `doc.lines`."
    )
    xpath: XPathField | None = Field(
        None,
        description="XPath selecting elements, e.g. `/order/line` (namespaces from the process).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SplitStep:
        if (self.items is None) == (self.xpath is None):
            raise ValueError("give exactly one of `items` or `xpath`")
        return self

    async def run(self, documents: list[Document], execution: Execution) -> list[Document]:
        result: list[Document] = []
        for document in documents:
            result.extend(self._split(document))
        return result

    def _split(self, document: Document) -> list[Document]:
        parts: list[Document] = []
        if self.items is not None:
            values = self.items.evaluate(variables(document))
            if not isinstance(values, list | tuple):
                raise DocumentError(
                    f"split items {self.items.source!r} gave {type(values).__name__}, not a list"
                )
            parts = [document.derive(value, BodyKind.JSON, "application/json") for value in values]
        else:
            if document.kind is not BodyKind.XML:
                raise DocumentError(f"split by xpath needs an XML document, not {document.kind}")
            assert self.xpath is not None
            matches: Any = self.xpath(document.body)
            if not isinstance(matches, list):
                raise DocumentError("split xpath must select elements")
            for match in matches:
                if not isinstance(match, etree._Element):
                    raise DocumentError("split xpath must select elements, not text or attributes")
                parts.append(
                    document.derive(copy.deepcopy(match), BodyKind.XML, document.media_type)
                )
        for index, part in enumerate(parts):
            part.properties["split_index"] = index
            part.properties["split_count"] = len(parts)
        return parts
