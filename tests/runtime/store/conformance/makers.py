"""Records for the conformance tests, with the fields a test does not care about filled."""

from __future__ import annotations

import time

from runtime.core.ids import new_execution_id
from runtime.store import ExecutionRecord, FireRecord, InboxItem


def item(key: str | None = None, process: str = "p") -> InboxItem:
    return InboxItem(new_execution_id(), process, "listener", time.time(), {"body": ""}, key)


def scoped(scope: str, fingerprint: str | None, key: str = "k") -> InboxItem:
    """An item whose idempotency key belongs to a caller and to a request (its hash)."""
    made = item(key)
    made.idempotency_scope, made.request_hash = scope, fingerprint
    return made


def record(
    execution_id: str,
    status: str = "succeeded",
    created: float | None = None,
    process: str = "p",
) -> ExecutionRecord:
    return ExecutionRecord(execution_id, process, "listener", status, created or time.time())


def fire(
    slot: float,
    process: str = "job",
    *,
    by: str = "host:1:me",
    heartbeat: float | None = None,
    status: str = "running",
    finished: float | None = None,
) -> FireRecord:
    """A fire of `process` at `slot`, claimed now (its heartbeat now unless given)."""
    now = time.time()
    beat = now if heartbeat is None else heartbeat
    return FireRecord(process, slot, "schedule", status, by, now, beat, finished)
