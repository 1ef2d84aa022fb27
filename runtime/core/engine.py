"""The engine: runs a process's steps over documents and records what happened."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.core.components import Pipeline, Step
from runtime.core.document import Document
from runtime.core.errors import StepError, WharfError
from runtime.core.ids import new_execution_id
from runtime.core.step_context import RUNNING_STEP

if TYPE_CHECKING:
    from runtime.core.connections import Connections
    from runtime.core.definitions import ProcessDefinition

log = logging.getLogger("wharf.engine")


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class StepTrace:
    step: str
    started_at: float
    duration_ms: float
    documents_in: int
    documents_out: int
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "duration_ms": round(self.duration_ms, 3),
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "error": self.error,
        }


@dataclass(slots=True)
class Execution:
    """One run of a process. Steps report into it through `run_step`."""

    process: str
    started_by: str  # listener, api, schedule, poll or retry: the record's `trigger` field
    id: str = field(default_factory=new_execution_id)
    status: ExecutionStatus = ExecutionStatus.QUEUED
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    documents_in: int = 0
    documents_out: int = 0
    trace: list[StepTrace] = field(default_factory=list)
    error: StepError | None = None
    connections: Connections | None = None  # live connection clients, for connector steps
    attempt: int = 1  # 2 and up: a re-run after a crash, or a retry
    token_root: str | None = None  # the first attempt's execution id, if not this one

    @property
    def duration_ms(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at) * 1000

    async def run_step(self, step: Step, documents: list[Document]) -> list[Document]:
        started = time.perf_counter()
        entry = StepTrace(step.path, time.time(), 0.0, len(documents), 0)
        self.trace.append(entry)
        running = RUNNING_STEP.set((self, step.path))
        try:
            result = await step.run(documents, self)
        except StepError as exc:  # a nested step failed; it already carries its own path
            entry.error = exc.detail
            raise
        except Exception as exc:
            error = StepError(step.path, exc)
            entry.error = error.detail
            raise error from exc
        finally:
            RUNNING_STEP.reset(running)
            entry.duration_ms = (time.perf_counter() - started) * 1000
        entry.documents_out = len(result)
        return result

    def error_summary(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {
            "type": type(self.error.root).__name__,
            "message": self.error.detail,
            "step": self.error.step_path,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "process": self.process,
            "trigger": self.started_by,
            "status": str(self.status),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "error": self.error_summary(),
            "trace": [entry.as_dict() for entry in self.trace],
        }


@dataclass(slots=True)
class ExecutionResult:
    execution: Execution
    documents: list[Document]


class Process:
    """A loaded process: its validated definition and its bound pipeline."""

    def __init__(self, definition: ProcessDefinition, source: Path | None = None):
        self.definition = definition
        self.source = source
        self.name = definition.name
        self.trigger_kind, self.trigger = definition.trigger.unwrap()
        self.pipeline = Pipeline(definition.steps, "steps")

    async def execute(
        self,
        documents: list[Document],
        started_by: str = "listener",
        execution_id: str | None = None,
        connections: Connections | None = None,
        attempt: int = 1,
        token_root: str | None = None,
    ) -> ExecutionResult:
        """Run the steps. Step failures are recorded on the execution, not raised."""
        execution = (
            Execution(self.name, started_by, id=execution_id)
            if execution_id is not None
            else Execution(self.name, started_by)
        )
        execution.connections = connections
        execution.attempt = attempt
        execution.token_root = token_root
        execution.documents_in = len(documents)
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = time.time()
        result: list[Document] = []
        try:
            result = await self.pipeline.run(documents, execution)
        except StepError as exc:
            execution.error = exc
            execution.status = ExecutionStatus.FAILED
            root = exc.root
            if isinstance(root, WharfError):
                log.warning("execution %s of %s failed: %s", execution.id, self.name, exc.detail)
            else:
                log.error(
                    "execution %s of %s failed in %s",
                    execution.id,
                    self.name,
                    exc.step_path,
                    exc_info=root,
                )
        else:
            execution.status = ExecutionStatus.SUCCEEDED
        execution.finished_at = time.time()
        execution.documents_out = len(result)
        log.info(
            "execution %s process=%s trigger=%s status=%s duration_ms=%.2f docs=%d->%d",
            execution.id,
            self.name,
            started_by,
            execution.status,
            execution.duration_ms or 0.0,
            execution.documents_in,
            execution.documents_out,
        )
        return ExecutionResult(execution, result)
