"""The bodies and parameters of the process, execution and connection routes, and the
problem body every admin route may answer, as the OpenAPI document shows them.

Schedules and usage keep their few models beside their handlers. A field without a
default is required; `optional()` marks one an answer may leave out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from runtime.dispatch.recording import RecordLevel
from runtime.server.api.declaration import optional

ExecutionStatus = Literal["queued", "running", "succeeded", "failed"]
MAX_PAGE = 500


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    execution_id: str = optional()
    step: str = optional()


class ProcessTrigger(BaseModel):
    kind: str = optional()


class Process(BaseModel):
    name: str
    description: str = optional()
    trigger: ProcessTrigger
    record: RecordLevel = optional()
    steps: int = optional()


class ProcessList(BaseModel):
    items: list[Process] = optional()


class ExecutionError(BaseModel):
    type: str = optional()
    message: str = optional()
    step: str | None = optional()


class ExecutionSummary(BaseModel):
    id: str
    process: str
    trigger: Literal["listener", "api", "schedule", "poll", "retry"]
    status: ExecutionStatus
    created_at: datetime = optional()
    started_at: datetime | None = optional()
    finished_at: datetime | None = optional()
    duration_ms: float | None = optional()
    documents_in: int = optional()
    documents_out: int = optional()
    error: ExecutionError | None = optional()
    parent_id: str | None = optional()
    idempotency_key: str | None = optional()
    attempt: int = optional("1, or more after a re-run (the runtime stopped mid-run) or a retry")


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary] = optional()
    next_cursor: str | None = optional()


class TraceStep(BaseModel):
    step: str = optional()
    duration_ms: float = optional()
    documents_in: int = optional()
    documents_out: int = optional()
    error: str | None = optional()


class Attempt(BaseModel):
    attempt: int = optional()
    execution_id: str = optional()
    status: Literal["queued", "running", "succeeded", "failed", "interrupted"] = optional()
    started_at: datetime | None = optional()
    finished_at: datetime | None = optional()
    duration_ms: float | None = optional()
    error: dict[str, Any] | None = optional()


class Execution(ExecutionSummary):
    trace: list[TraceStep]
    input: list[dict[str, Any]] | None = optional()
    output: list[dict[str, Any]] | None = optional()
    attempts: list[Attempt] = optional(
        "every attempt's outcome, oldest first; an attempt cut off by a crash or a stop "
        "is `interrupted`"
    )


class Accepted(BaseModel):
    execution_id: str
    status_url: str
    duplicate: bool = optional()


class ExecuteRequest(BaseModel):
    properties: dict[str, Any] = optional("document properties")
    body: Any = optional("JSON value, or a string for input xml/raw")
    input: Literal["json", "xml", "raw", "none"] = optional()


class ExecuteResult(BaseModel):
    execution: Execution = optional()
    documents: list[dict[str, Any]] = optional()


class Connection(BaseModel):
    name: str
    connector: str
    description: str = optional()


class ConnectionList(BaseModel):
    items: list[Connection] = optional()


class CheckResult(BaseModel):
    name: str
    connector: str
    ok: bool
    detail: str
    duration_ms: float


# Parameters: path, query and header models.


class ProcessName(BaseModel):
    name: str = Field(description="process name")


class ExecutionId(BaseModel):
    id: str = Field(description="execution id")


class ConnectionName(BaseModel):
    name: str = Field(description="connection name")


class ExecutionFilter(BaseModel):
    process: str = optional("process name")
    status: ExecutionStatus = optional("status")
    since: str = optional("ISO-8601 or epoch seconds")
    until: str = optional("ISO-8601 or epoch seconds")
    cursor: str = optional("next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="page size")


class ExecuteWait(BaseModel):
    wait: int = optional("milliseconds to wait (as the X-Max-Wait header of listeners)", ge=0)


class IdempotencyKey(BaseModel):
    key: str = optional("de-duplication key", alias="Idempotency-Key")
