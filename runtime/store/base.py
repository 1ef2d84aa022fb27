"""The store interface: durable inbox and execution records.

Callers (listeners, workers, the admin API) use only this interface; the SQLite backend
is the default and a PostgreSQL backend can follow without touching them.
"""

from __future__ import annotations

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
    async def start_attempt(self, execution_id: str) -> Attempt:
        """Claim an inbox item for a run, durably, before its steps run: the next attempt
        (its record turns `running`, `started_at` the commit's time).
        An item claimed before and not finished (its runtime died mid-run) gets that
        earlier attempt recorded as `interrupted`."""

    @abstractmethod
    async def finish_and_start(self, record: ExecutionRecord, next_id: str) -> Attempt:
        """Save a finished inbox item's record (marking it done) and start the next item's
        attempt, in one commit."""

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
    def save_execution_soon(self, record: ExecutionRecord) -> None:
        """Queue a record write without waiting for its commit (sync executions, whose
        caller already has the result). Reads made afterwards still see it; a failed write
        is logged."""

    @abstractmethod
    async def flush(self) -> None:
        """Wait until every write queued so far is committed (back-pressure)."""

    @property
    @abstractmethod
    def pending_writes(self) -> int:
        """Writes queued but not yet committed (for back-pressure)."""

    @abstractmethod
    async def find_idempotent(self, process: str, key: str, scope: str = "") -> str | None:
        """The execution that a caller's (scope's) idempotency key names, if any."""

    @abstractmethod
    async def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    @abstractmethod
    async def list_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]: ...

    # --- schedules: one run per fire slot, pause state ---------------------------------------

    @abstractmethod
    async def claim_fire(self, fire: FireRecord, *, overlap: str, stale_before: float) -> str:
        """Claim a slot atomically: `taken` when it was already claimed; else the new fire's
        status: `running`; `skipped` (overlap `skip` and a fire of the process is running
        with a heartbeat after `stale_before`); `queued` (overlap `queue`, same case)."""

    @abstractmethod
    async def start_queued_fire(self, process: str, slot: float, stale_before: float) -> bool:
        """Move a queued fire to running when no other fire of its process runs."""

    @abstractmethod
    async def finish_fire(self, fire: FireRecord) -> None:
        """Save a fire's outcome (status, execution, error, finished_at)."""

    @abstractmethod
    async def heartbeat_fires(self, keys: list[tuple[str, float]], now: float) -> None:
        """Mark running fires as alive (a crashed runtime's fires go stale)."""

    @abstractmethod
    async def record_missed_fires(self, fires: list[FireRecord]) -> None:
        """Record fires that did not run; slots already claimed are left alone."""

    @abstractmethod
    async def last_fire_slot(self, process: str) -> float | None: ...

    @abstractmethod
    async def unfinished_fires(self) -> list[FireRecord]:
        """Fires still `running` or `queued` (some may belong to runtimes that died)."""

    @abstractmethod
    async def list_fires(self, process: str, limit: int = 20) -> list[FireRecord]:
        """Newest slot first."""

    @abstractmethod
    async def set_paused(self, process: str, paused: bool) -> None: ...

    @abstractmethod
    async def paused_processes(self) -> set[str]: ...

    # --- pollers: remembered items and values ------------------------------------------------

    @abstractmethod
    async def poller_value(self, process: str, key: str) -> Any:
        """A value a poller saved (a watermark, an ETag), or None."""

    @abstractmethod
    async def set_poller_value(self, process: str, key: str, value: Any) -> None: ...

    @abstractmethod
    async def known_items(self, process: str, keys: list[str]) -> set[str]:
        """Which of these item keys (e.g. path|size|mtime) a poller has claimed before."""

    @abstractmethod
    async def claim_item(self, process: str, key: str, claimant: str, stale_before: float) -> bool:
        """Claim an item for processing; a claim still `running` from before `stale_before`
        (its runtime died) can be taken over."""

    @abstractmethod
    async def finish_item(
        self, process: str, key: str, status: str, execution_id: str | None
    ) -> None: ...

    @abstractmethod
    async def release_item(self, process: str, key: str) -> None:
        """Forget an item, so that the next poll takes it again (`on_error: retry`)."""

    # --- security: API keys and quotas ----------------------------------------------------

    @abstractmethod
    async def add_api_key(self, key: ApiKeyRecord) -> None: ...

    @abstractmethod
    async def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included (oldest first)."""

    @abstractmethod
    async def revoke_api_key(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key."""

    @abstractmethod
    async def consume_quota(self, key: str, period: str, amount: int, limit: int) -> int | None:
        """Count `amount` against `limit` for (key, period) atomically: the new total, or
        None (nothing counted) when it would go over the limit."""

    @abstractmethod
    async def prune(self, *, older_than: float | None, keep: int | None) -> int:
        """Delete finished records older than a time and/or beyond a count; return how many.
        Old schedule fires (each schedule's newest stays), poller items of files moved or
        deleted, and quota counters of long-past periods go too."""
