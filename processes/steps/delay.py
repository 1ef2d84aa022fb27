"""`delay`: wait before passing documents on, e.g. to pace calls to a rate-limited API."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import Field

from runtime.core import registry
from runtime.core.components import Step
from runtime.core.document import Document
from runtime.core.durations import Duration

if TYPE_CHECKING:
    from runtime.core.components import StepContext


@registry.step("delay")
class DelayStep(Step):
    """Pause the execution (without blocking anything else) for a duration."""

    duration: Duration = Field(description="How long to wait, e.g. `500ms`, `2s`.")

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        await asyncio.sleep(self.duration)
        return documents
