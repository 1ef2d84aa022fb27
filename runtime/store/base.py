"""The store interface: durable inbox and execution records.

Callers (listeners, workers, the admin API) use only this interface; the SQLite backend
is the default and a PostgreSQL backend can follow without touching them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class InboxItem:
    """An accepted request, durable before the caller hears 202. Its id is the execution id."""

    id: str
    process: str
    trigger: str
    received_at: float
    request: dict[str, Any]  # body (base64), media type, properties
    idempotency_key: str | None = None
    parent_id: str | None = None


@dataclass(slots=True)
class ExecutionRecord:
    id: str
    process: str
    trigger: str
    status: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    documents_in: int = 0
    documents_out: int = 0
    error: dict[str, Any] | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    input: list[dict[str, Any]] | None = None
    output: list[dict[str, Any]] | None = None
    parent_id: str | None = None
    idempotency_key: str | None = None

    def as_dict(self, *, with_trace: bool = True) -> dict[str, Any]:
        data = {
            "id": self.id,
            "process": self.process,
            "trigger": self.trigger,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "error": self.error,
            "parent_id": self.parent_id,
            "idempotency_key": self.idempotency_key,
        }
        if with_trace:
            data["trace"] = self.trace
            data["input"] = self.input
            data["output"] = self.output
        return data


@dataclass(slots=True)
class ExecutionQuery:
    process: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    cursor: str | None = None  # list executions with ids below this one (newest first)
    limit: int = 50


@dataclass(slots=True)
class Accepted:
    execution_id: str
    duplicate: bool  # an earlier delivery with the same idempotency key was found


class Store(ABC):
    """Durable state. Every async write method returns once the write is committed to disk;
    every read sees the writes submitted before it."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool: ...

    @abstractmethod
    async def accept(self, item: InboxItem) -> Accepted:
        """Durably add a request to the inbox, with a queued execution record."""

    @abstractmethod
    async def unfinished(self) -> list[InboxItem]:
        """Inbox items accepted but not finished (to resume after a restart)."""

    @abstractmethod
    async def inbox_request(self, execution_id: str) -> dict[str, Any] | None:
        """The request kept for an execution (for retries)."""

    @abstractmethod
    async def save_execution(self, record: ExecutionRecord, *, finish_inbox: bool = False) -> None:
        """Insert or update a record; `finish_inbox` also marks its inbox item done."""

    @abstractmethod
    def save_execution_soon(self, record: ExecutionRecord) -> asyncio.Future[None]:
        """Queue a record write without waiting for its commit (sync executions, whose
        caller already has the result). Reads made afterwards still see it."""

    @property
    @abstractmethod
    def pending_writes(self) -> int:
        """Writes queued but not yet committed (for back-pressure)."""

    @abstractmethod
    async def find_idempotent(self, process: str, key: str) -> str | None: ...

    @abstractmethod
    async def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    @abstractmethod
    async def list_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]: ...

    @abstractmethod
    async def prune(self, *, older_than: float | None, keep: int | None) -> int:
        """Delete finished records older than a time and/or beyond a count; return how many."""
