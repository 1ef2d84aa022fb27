"""What a fire produces: batches of documents, each run as one execution.

A plain schedule yields one batch with one empty document; a file poller yields one
batch per new file, a SQL poller one batch of new rows. After its execution, the
scheduler calls `succeeded` or `failed` on the batch: that is where a poller moves the
file, saves its watermark or remembers the ETag, so nothing is marked done before the
work that depends on it succeeded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from runtime.core.document import Document

if TYPE_CHECKING:
    from runtime.store import PollerMemory


@dataclass(slots=True)
class Fire:
    """One fire of a scheduled process."""

    process: str
    slot: datetime  # nominal fire time (UTC), the claim key
    kind: str  # schedule | catch_up | manual
    runtime_id: str  # the runtime that claimed it
    store: PollerMemory

    def properties(self) -> dict[str, Any]:
        """Properties every document of this fire carries."""
        return {"schedule_slot": self.slot.isoformat(), "schedule_kind": self.kind}


@dataclass(slots=True)
class Batch:
    documents: list[Document]
    label: str = ""  # what the batch is, for logs and errors (a file path...)
    context: dict[str, Any] = field(default_factory=dict)  # the source's own bookkeeping


class Source:
    """Produces a fire's batches. Blocking work (FTP, SFTP) belongs in a thread."""

    def batches(self, fire: Fire) -> AsyncIterator[Batch]:
        raise NotImplementedError

    async def succeeded(self, fire: Fire, batch: Batch, execution_id: str) -> None:
        """The batch's execution succeeded."""

    async def failed(self, fire: Fire, batch: Batch, execution_id: str | None) -> None:
        """The batch's execution failed (`execution_id` None: it never started)."""

    async def close(self) -> None:
        """Release what the source holds, at shutdown."""


class ScheduleSource(Source):
    """A plain schedule: one document per fire, an empty JSON object."""

    async def batches(self, fire: Fire) -> AsyncIterator[Batch]:
        yield Batch([Document.json({}, fire.properties())], label="fire")
