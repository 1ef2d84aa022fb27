"""`try`: run steps with retries; on final failure run `catch` steps instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr

from runtime.core import registry
from runtime.core.components import Pipeline, Step
from runtime.core.document import Document
from runtime.core.errors import StepError
from runtime.core.retry import RetryPolicy, retrying

if TYPE_CHECKING:
    from runtime.core.components import StepContext
    from runtime.core.components import StepEntry as AnyStep


class TryRetry(RetryPolicy):
    """The shared retry policy with its defaults: one attempt unless more are asked for."""


@registry.step("try")
class TryStep(Step):
    """Run `steps`; if they fail, retry as configured, then run `catch` on the original
    documents with `error_type`, `error_message` and `error_step` properties. Without
    `catch` steps the last error fails the execution."""

    steps: list[AnyStep] = Field(description="Steps to attempt.")
    catch: list[AnyStep] = Field(
        default_factory=list, description="Steps run when every attempt failed."
    )
    retry: TryRetry = Field(default_factory=lambda: TryRetry(), description="Retry policy.")

    _body: Pipeline = PrivateAttr()
    _catch: Pipeline = PrivateAttr()

    def bind(self, path: str) -> None:
        super().bind(path)
        self._body = Pipeline(self.steps, f"{path}.steps")
        self._catch = Pipeline(self.catch, f"{path}.catch")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        async def attempt(number: int) -> list[Document]:
            # Each attempt works on copies, so a failed attempt leaves no half-changes.
            return await self._body.run([doc.copy() for doc in documents], context)

        try:
            return await retrying(self.retry, attempt, retry_on=(StepError,))
        except StepError as exc:
            error = exc
        if not self.catch:
            raise error
        caught = []
        for doc in documents:
            copy = doc.copy()
            copy.properties.update(
                error_type=type(error.root).__name__,
                error_message=error.detail,
                error_step=error.step_path,
            )
            caught.append(copy)
        return await self._catch.run(caught, context)
