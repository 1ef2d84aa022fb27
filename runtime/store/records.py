"""The records the store keeps and hands out, shared by every backend and its callers."""

from __future__ import annotations

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
    # Whose key it is (e.g. `api_key:key:<id>`; empty for anonymous callers): one caller's
    # key never finds another caller's execution.
    idempotency_scope: str = ""
    # A hash of the request a key was first used with; None when the key is taken from
    # the body by the process's own expression (it then names the delivery by itself).
    request_hash: str | None = None
    # A retry continues its parent's attempts: its first attempt's number, the attempts
    # before it, and the id its step tokens are made of (the first execution's).
    attempt: int = 1
    attempts: list[dict[str, Any]] | None = None
    token_root: str | None = None


@dataclass(slots=True)
class Attempt:
    """The attempt a worker starts: its number, the earlier attempts' outcomes, and the
    id that step tokens are made of when it is not the execution's own (a retry)."""

    number: int
    earlier: list[dict[str, Any]]
    token_root: str | None = None


INTERRUPTED = {
    "type": "Interrupted",
    "message": "the runtime stopped during this attempt (a crash, or a shutdown past its "
    "grace period); the execution ran again",
    "step": None,
}


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
    attempt: int = 1  # 2 and up: a re-run after a crash, or a retry
    attempts: list[dict[str, Any]] = field(default_factory=list)  # the earlier ones
    token_root: str | None = None  # the first execution's id, for a retry

    def outcome(self) -> dict[str, Any]:
        """This attempt, as an entry of `attempts`."""
        return {
            "attempt": self.attempt,
            "execution_id": self.id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }

    def next_attempt(self) -> tuple[int, list[dict[str, Any]], str]:
        """What a retry of this execution continues from: its attempt number, every attempt
        so far, and the id its step tokens keep."""
        return self.attempt + 1, [*self.attempts, self.outcome()], self.token_root or self.id

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
            "attempt": self.attempt,
        }
        if with_trace:
            data["attempts"] = [*self.attempts, self.outcome()]
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
class FireRecord:
    """One fire slot of a schedule, claimed in the store so that it runs once in a cluster.

    `status`: running, queued (waiting for the previous run), succeeded, failed, idle (a
    poller found nothing), skipped (the previous run was still going), missed (the
    runtime was down, or the fire came too late), abandoned (its runtime died)."""

    process: str
    slot: float  # the nominal fire time, epoch seconds (the claim key with `process`)
    kind: str  # schedule | catch_up | manual
    status: str
    claimed_by: str
    claimed_at: float
    heartbeat_at: float
    finished_at: float | None = None
    execution_id: str | None = None
    executions: int = 0
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "kind": self.kind,
            "status": self.status,
            "claimed_by": self.claimed_by,
            "claimed_at": self.claimed_at,
            "finished_at": self.finished_at,
            "execution_id": self.execution_id,
            "executions": self.executions,
            "error": self.error,
        }


@dataclass(slots=True)
class ApiKeyRecord:
    """An API key as stored: its public id and a hash of its secret, never the secret."""

    id: str
    name: str
    hash: str  # hex SHA-256 of the secret part (keys are random, 256 bits: no slow hash needed)
    admin: bool
    processes: list[str] | None  # None: every process
    created_at: float
    revoked_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "admin": self.admin,
            "processes": self.processes,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(slots=True)
class Accepted:
    execution_id: str
    duplicate: bool  # an earlier delivery with the same idempotency key was found
    conflict: bool = False  # ... but with another request: the key was reused (422)
