"""`template`: render text (CSV, XML, EDI, plain text) from a Jinja2 template."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.expressions import Template, variables

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("template")
class TemplateStep(Step):
    """Replace each document's body with text rendered from a template (inline or a file)."""

    text: str | None = Field(None, description="The template itself.")
    file: str | None = Field(
        None, description="A template file, relative to the process file (instead of `text`)."
    )
    media_type: str = Field("text/plain", description="Media type of the result.")
    autoescape: bool | None = Field(
        None,
        description="Escape `{{ }}` output for XML/HTML; defaults to on when the media type "
        "is XML or HTML.",
    )

    _template: Template = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self, info: ValidationInfo) -> TemplateStep:
        context: dict[str, Any] = info.context or {}
        if (self.text is None) == (self.file is None):
            raise ValueError("give exactly one of `text` or `file`")
        source = self.text
        if self.file is not None:
            base = Path(context.get("base_dir") or ".")
            path = (base / self.file).resolve()
            try:
                source = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"cannot read template file {self.file!r}: {exc.strerror}"
                ) from None
        escape = self.autoescape
        if escape is None:
            base_type = self.media_type.split(";", 1)[0].strip().lower()
            escape = base_type.endswith(("xml", "html"))
        assert source is not None
        self._template = Template(source, context.get("namespaces"), autoescape=escape)
        return self

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        return [
            Document.text(self._template.evaluate(variables(doc)), self.media_type, doc.properties)
            for doc in documents
        ]
