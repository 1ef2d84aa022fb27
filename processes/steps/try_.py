"""`try`: run steps with retries; on final failure run `catch` steps instead."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr

from runtime.core import registry
from runtime.core.components import Pipeline, Step
from runtime.core.document import Document
from runtime.core.durations import Duration
from runtime.core.errors import StepError
from runtime.core.models import StrictModel

if TYPE_CHECKING:
    from runtime.core.components import StepContext
    from runtime.core.components import StepEntry as AnyStep


class Retry(StrictModel):
    """How often, and how patiently, `try` re-runs its steps."""

    attempts: int = Field(1, ge=1, le=10, description="Total attempts, the first included.")
    backoff: Duration = Field(1.0, description="Wait before the second attempt.")
    factor: float = Field(2.0, ge=1.0, description="Each further wait is this much longer.")
    max_backoff: Duration = Field(60.0, description="Upper bound of any one wait.")

    def delay(self, attempt: int) -> float:
        """Wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.backoff * self.factor ** (attempt - 1), self.max_backoff))


@registry.step("try")
class TryStep(Step):
    """Run `steps`; if they fail, retry as configured, then run `catch` on the original
    documents with `error_type`, `error_message` and `error_step` properties. Without
    `catch` steps the last error fails the execution."""

    steps: list[AnyStep] = Field(description="Steps to attempt.")
    catch: list[AnyStep] = Field(
        default_factory=list, description="Steps run when every attempt failed."
    )
    retry: Retry = Field(default_factory=lambda: Retry(), description="Retry policy.")

    _body: Pipeline = PrivateAttr()
    _catch: Pipeline = PrivateAttr()

    def bind(self, path: str) -> None:
        super().bind(path)
        self._body = Pipeline(self.steps, f"{path}.steps")
        self._catch = Pipeline(self.catch, f"{path}.catch")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        error: StepError | None = None
        for attempt in range(1, self.retry.attempts + 1):
            try:
                # Each attempt works on copies, so a failed attempt leaves no half-changes.
                return await self._body.run([doc.copy() for doc in documents], context)
            except StepError as exc:
                error = exc
                if attempt < self.retry.attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
        assert error is not None
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
