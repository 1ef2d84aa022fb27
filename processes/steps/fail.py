"""`fail`: stop the execution with a declared error and HTTP status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.errors import ProcessFailure
from runtime.core.expressions import ValueField, variables

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("fail")
class FailStep(Step):
    """Fail the execution on purpose, e.g. in a `route` branch for invalid orders."""

    status: int = Field(500, ge=400, le=599, description="HTTP status the caller gets.")
    title: str = Field("Process failed", description="Short, fixed summary of the problem.")
    detail: ValueField | None = Field(
        None, description="Explanation for this occurrence (value over the first document)."
    )
    problem: str = Field(
        "process-failure", description="Problem type slug, `urn:wharf:problem:<slug>`."
    )

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        detail = self.title
        if self.detail is not None:
            names = variables(documents[0]) if documents else {"doc": None, "props": {}}
            detail = str(self.detail.evaluate(names))
        raise ProcessFailure(detail, status=self.status, title=self.title, problem=self.problem)
