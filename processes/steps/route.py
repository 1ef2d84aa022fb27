"""`route`: send each document down the first branch whose condition holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr

from runtime.core import registry
from runtime.core.components import Pipeline, Step
from runtime.core.document import Document
from runtime.core.expressions import ExpressionField, variables
from runtime.core.models import StrictModel

if TYPE_CHECKING:
    from runtime.core.components import StepContext
    from runtime.core.components import StepEntry as AnyStep


class Route(StrictModel):
    """One branch of a `route` step."""

    when: ExpressionField = Field(
        description="Condition over the document, e.g. `doc.amount > 1000`."
    )
    steps: list[AnyStep] = Field(default_factory=list, description="Steps for matching documents.")


@registry.step("route")
class RouteStep(Step):
    """Route each document to the first branch whose `when` is true, else to `default`.
    Documents that match no branch and have no `default` steps pass through unchanged.
    Results come back in branch order, then the default's."""

    routes: list[Route] = Field(min_length=1, description="Branches, tried in order.")
    default: list[AnyStep] = Field(
        default_factory=list, description="Steps for documents no branch matched."
    )

    _branches: list[Pipeline] = PrivateAttr(default_factory=list)
    _default: Pipeline = PrivateAttr()

    def bind(self, path: str) -> None:
        super().bind(path)
        self._branches = [
            Pipeline(route.steps, f"{path}.routes[{index}].steps")
            for index, route in enumerate(self.routes)
        ]
        self._default = Pipeline(self.default, f"{path}.default")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        groups: list[list[Document]] = [[] for _ in self.routes]
        unmatched: list[Document] = []
        for document in documents:
            names = variables(document)
            for index, route in enumerate(self.routes):
                if route.when.evaluate(names):
                    groups[index].append(document)
                    break
            else:
                unmatched.append(document)
        result: list[Document] = []
        for branch, group in zip(self._branches, groups, strict=True):
            if group:
                result.extend(await branch.run(group, context))
        if unmatched:
            result.extend(await self._default.run(unmatched, context))
        return result
