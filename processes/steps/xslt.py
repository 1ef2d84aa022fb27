"""`xslt`: transform XML with an XSLT 1.0 stylesheet, compiled once at load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import BodyKind, Document
from runtime.core.errors import DocumentError
from runtime.core.expressions import ValueField, variables
from runtime.core.offload import off_loop
from runtime.formats.codecs import MalformedBody, parse_xml
from runtime.formats.schemas import resolve

if TYPE_CHECKING:
    from runtime.core.components import StepContext

# Stylesheets may not read or write files or reach the network (document(), xsl:include
# of remote files, exsl:document...).
_NO_ACCESS = etree.XSLTAccessControl(
    read_file=False, write_file=False, create_dir=False, read_network=False, write_network=False
)


@registry.step("xslt")
class XsltStep(Step):
    """Transform each XML document with an XSLT 1.0 stylesheet (lxml/libxslt). The result
    is XML, or text when the stylesheet's `xsl:output method="text"`. Stylesheets have no
    file or network access. Transforms run off the event loop, within the server's
    `work_budget`."""

    file: str = Field(description="The stylesheet, relative to the process file.")
    parameters: dict[str, ValueField] = Field(
        default_factory=dict,
        description="Stylesheet parameters (`xsl:param`), values over the document.",
    )
    media_type: str | None = Field(None, description="Media type of the result.")

    _transform: etree.XSLT = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self, info: ValidationInfo) -> XsltStep:
        path = resolve((info.context or {}).get("base_dir"), self.file)
        try:
            stylesheet = parse_xml(path.read_bytes())
            self._transform = etree.XSLT(stylesheet, access_control=_NO_ACCESS)
        except OSError as exc:
            raise ValueError(f"cannot read stylesheet {self.file!r}: {exc.strerror}") from None
        except MalformedBody as exc:
            raise ValueError(f"stylesheet {self.file!r}: {exc.detail}") from None
        except etree.XSLTParseError as exc:
            raise ValueError(f"stylesheet {self.file!r} does not compile: {exc}") from None
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return await off_loop(lambda: [self._apply(document) for document in documents])

    def _apply(self, document: Document) -> Document:
        if document.kind is not BodyKind.XML:
            raise DocumentError(f"xslt needs an XML document, not {document.kind}")
        names = variables(document)
        params = {
            name: etree.XSLT.strparam(str(value.evaluate(names)))
            for name, value in self.parameters.items()
        }
        try:
            result = self._transform(document.body, **params)  # type: ignore[arg-type]
        except etree.XSLTApplyError as exc:
            raise DocumentError(f"the transform failed: {exc}") from None
        root = result.getroot()
        if root is None:
            media_type = self.media_type or "text/plain"
            return document.derive(str(result), BodyKind.TEXT, media_type)
        return document.derive(root, BodyKind.XML, self.media_type or "application/xml")
