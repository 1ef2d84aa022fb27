"""`set`: set document properties from values (expressions, templates or literals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.expressions import ValueField, variables

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("set")
class SetStep(Step):
    """Set document properties. `outstatuscode` and `outheader_<Name>` shape the HTTP answer."""

    properties: dict[str, ValueField] = Field(
        description="Property name -> value. Values see the document before this step; "
        "later entries do not see earlier ones."
    )

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        for document in documents:
            names = variables(document)
            updates = {name: value.evaluate(names) for name, value in self.properties.items()}
            document.properties.update(updates)
        return documents
