"""The store, split by concern: one small protocol per kind of durable state.

Why split: each caller needs one slice (the dispatcher the inbox, the scheduler its fire
ledger, a poller its memory, auth the key ring, a quota its ledger), so each is typed
against only that slice; a reader sees what a caller can touch, a test can hand a caller
a small fake, and a backend is checked concern by concern. `Store` is their composition
plus the lifecycle (open, close, ping) and retention; the composition root opens one
and hands it to every caller.

Every write returns once it is committed (durable); every read sees the writes submitted
before it on the same store object. Several store objects on one database (runtimes of a
cluster, or a restart) share its state: claims stay unique across them.

Adding a backend (e.g. PostgreSQL): implement these protocols in one class (subclass
them, so mypy checks each signature), give it a URL scheme in `open_store`
(`runtime/store/__init__.py`), and add one entry to `BACKENDS` in
`tests/runtime/store/conformance/conftest.py`: the conformance suite then runs every
contract test against it unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from runtime.store.records import (
    Accepted,
    ApiKeyRecord,
    Attempt,
    ExecutionQuery,
    ExecutionRecord,
    FireRecord,
    InboxItem,
)


class ExecutionLog(Protocol):
    """Execution records: written as executions run, queried by the API and the CLI."""

    async def save_execution(self, record: ExecutionRecord, *, finish_inbox: bool = False) -> None:
        """Insert or update a record; `finish_inbox` also marks its inbox item done.
        A finished record (succeeded, failed) is never turned back by a late unfinished one."""

    def save_execution_soon(self, record: ExecutionRecord) -> None:
        """Queue a record write without waiting for its commit (sync executions, whose
        caller already has the result). Reads made afterwards still see it; a failed write
        is logged."""

    async def flush(self) -> None:
        """Wait until every write queued so far is committed (back-pressure)."""

    @property
    def pending_writes(self) -> int:
        """Writes queued but not yet committed (for back-pressure)."""

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    async def list_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        """Newest first (ids sort by time); filters combine; `cursor` pages on from an id."""


class Inbox(ExecutionLog, Protocol):
    """Accepted-but-unprocessed requests. An item is an execution (its id is the record's,
    accepting writes its queued record in the same commit), so an inbox is also a log."""

    async def accept(self, item: InboxItem) -> Accepted:
        """Durably add a request to the inbox, with a queued execution record. An
        idempotency key already used by the same caller (scope) for the same process names
        the earlier execution instead (`duplicate`; `conflict` when the request differs)."""

    async def start_attempt(self, execution_id: str) -> Attempt:
        """Claim an inbox item for a run, durably, before its steps run: the next attempt
        (its record turns `running`, `started_at` the commit's time).
        An item claimed before and not finished (its runtime died mid-run) gets that
        earlier attempt recorded as `interrupted`."""

    async def finish_and_start(self, record: ExecutionRecord, next_id: str) -> Attempt:
        """Save a finished inbox item's record (marking it done) and start the next item's
        attempt, in one commit."""

    async def unfinished(self) -> list[InboxItem]:
        """Inbox items accepted but not finished (to resume after a restart), in id order
        (ids sort by creation)."""

    async def inbox_request(self, execution_id: str) -> dict[str, Any] | None:
        """The request kept for an execution (for retries)."""


class FireLedger(Protocol):
    """Schedule fires, one claim per (process, slot) across a cluster, and pause flags."""

    async def claim_fire(self, fire: FireRecord, *, overlap: str, stale_before: float) -> str:
        """Claim a slot atomically: `taken` when it was already claimed; else the new fire's
        status: `running`; `skipped` (overlap `skip` and a fire of the process is running
        with a heartbeat after `stale_before`); `queued` (overlap `queue`, same case)."""

    async def start_queued_fire(self, process: str, slot: float, stale_before: float) -> bool:
        """Move a queued fire to running when no other fire of its process runs."""

    async def finish_fire(self, fire: FireRecord) -> None:
        """Save a fire's outcome (status, execution, error, finished_at)."""

    async def heartbeat_fires(self, keys: list[tuple[str, float]], now: float) -> None:
        """Mark running fires as alive (a crashed runtime's fires go stale)."""

    async def record_missed_fires(self, fires: list[FireRecord]) -> None:
        """Record fires that did not run; slots already claimed are left alone."""

    async def last_fire_slot(self, process: str) -> float | None: ...

    async def unfinished_fires(self) -> list[FireRecord]:
        """Fires still `running` or `queued` (some may belong to runtimes that died)."""

    async def list_fires(self, process: str, limit: int = 20) -> list[FireRecord]:
        """Newest slot first."""

    async def set_paused(self, process: str, paused: bool) -> None: ...

    async def paused_processes(self) -> set[str]: ...


class PollerMemory(Protocol):
    """What pollers remember between fires: values (watermarks, ETags) and claimed items."""

    async def poller_value(self, process: str, key: str) -> Any:
        """A value a poller saved (a watermark, an ETag), or None."""

    async def set_poller_value(self, process: str, key: str, value: Any) -> None: ...

    async def known_items(self, process: str, keys: list[str]) -> set[str]:
        """Which of these item keys (e.g. path|size|mtime) a poller has claimed before
        and finished (items still `running` are not known)."""

    async def claim_item(self, process: str, key: str, claimant: str, stale_before: float) -> bool:
        """Claim an item for processing; a claim still `running` from before `stale_before`
        (its runtime died) can be taken over."""

    async def finish_item(
        self, process: str, key: str, status: str, execution_id: str | None
    ) -> None: ...

    async def release_item(self, process: str, key: str) -> None:
        """Forget an item, so that the next poll takes it again (`on_error: retry`)."""


class SchedulerStore(FireLedger, PollerMemory, Protocol):
    """What the scheduler needs: its fire ledger, and the poller memory each fire hands
    to its source."""


class KeyRing(Protocol):
    """API keys as their ids and hashes, never the secrets."""

    async def add_api_key(self, key: ApiKeyRecord) -> None: ...

    async def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included (oldest first)."""

    async def revoke_api_key(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key."""


class QuotaLedger(Protocol):
    """Request counters per key and period, shared by every runtime on the store."""

    async def consume_quota(self, key: str, period: str, amount: int, limit: int) -> int | None:
        """Count `amount` against `limit` for (key, period) atomically: the new total, or
        None (nothing counted) when it would go over the limit."""


class Retention(Protocol):
    """Forgetting old state, across every concern."""

    async def prune(self, *, older_than: float | None, keep: int | None) -> int:
        """Delete finished records older than a time and/or beyond a count; return how many.
        Old schedule fires (each schedule's newest stays), poller items of files moved or
        deleted, and quota counters of long-past periods go too."""


class Store(Inbox, SchedulerStore, KeyRing, QuotaLedger, Retention, Protocol):
    """Every slice in one backend, with its lifecycle: what the composition root opens."""

    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None:
        """Commit queued writes, then disconnect."""

    async def ping(self) -> bool:
        """Whether the store answers (readiness)."""
