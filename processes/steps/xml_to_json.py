"""`xml_to_json`: an XML document becomes a JSON document."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.formats.schemas import ValidationFailed, XsdValidator, load_xsd_validator, resolve
from runtime.formats.xmljson import element_to_json

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("xml_to_json")
class XmlToJsonStep(Step):
    """Convert XML to JSON. With an XSD the result is typed (numbers, booleans, lists where
    the schema allows repeats); without one it follows the convention in the README
    (`@attr`, `#text`, repeated elements as lists). The root element's content becomes the
    document (`wrap_root` keeps `{root: ...}`)."""

    xsd: str | None = Field(None, description="XSD file for typed conversion.")
    force_list: list[str] = Field(
        default_factory=list, description="Without XSD: element names that are always lists."
    )
    wrap_root: bool = Field(False, description="Keep the root element name as the top key.")

    _xsd: XsdValidator | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> XmlToJsonStep:
        if self.xsd is not None:
            self._xsd = load_xsd_validator(resolve((info.context or {}).get("base_dir"), self.xsd))
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [self._convert(document) for document in documents]

    def _convert(self, document: Document) -> Document:
        if document.kind is not BodyKind.XML:
            raise DocumentError(f"xml_to_json needs an XML document, not {document.kind}")
        root = document.body
        value: Any
        if self._xsd is not None:
            errors = self._xsd.errors(root)
            if errors:
                raise ValidationFailed(errors)
            value = self._xsd.schema.to_dict(root, strip_namespaces=True, decimal_type=float)
            value = _plain(value)
        else:
            value = element_to_json(root, self.force_list)
        if self.wrap_root:
            value = {etree_local(root.tag): value}
        return document.derive(value, BodyKind.JSON, "application/json")


def etree_local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _plain(value: Any) -> Any:
    """xmlschema may hand back Decimals and tuples; JSON wants floats and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key != "@xmlns"}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
