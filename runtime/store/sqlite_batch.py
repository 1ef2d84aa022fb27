"""One group commit of the SQLite store: the writes queued at one moment, in one transaction.

Accepted items and records of a batch go in as multi-row statements; claims of a batch
share their statements too (see `sqlite_attempts`); jobs (fire claims, key and quota
writes, pruning) run one after the other. Each write's result is handed back in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import orjson

from runtime.store.records import Accepted, Attempt, ExecutionRecord, InboxItem
from runtime.store.sqlite_attempts import claim_attempts
from runtime.store.sqlite_sql import (
    ACCEPT_EXECUTION,
    ACCEPT_INBOX,
    ACCEPT_ROW,
    INBOX_ROW,
    RECORD_ROW,
    UPSERT,
    record_params,
    to_json,
    write_rows,
)

Job = Callable[[aiosqlite.Connection], Awaitable[Any]]


class Write:
    """One queued write: an accepted item, a record, or a job (e.g. pruning), or nothing
    (a barrier that only waits for the writes queued before it). Without a future nobody
    waits for it (a record queued "soon"); a failed batch is logged either way."""

    __slots__ = ("claim", "finish_inbox", "future", "item", "job", "record")

    def __init__(
        self,
        item: InboxItem | None = None,
        record: ExecutionRecord | None = None,
        finish_inbox: bool = False,
        job: Job | None = None,
        claim: str | None = None,  # an inbox item a worker starts (its result: the Attempt)
    ):
        self.future: asyncio.Future[Any] | None = None  # set by whoever waits for it
        self.item = item
        self.record = record
        self.finish_inbox = finish_inbox
        self.job = job
        self.claim = claim


_KeyScope = tuple[str, str, str]  # process, caller scope, idempotency key
_Owner = tuple[str, str | None]  # the execution a key names, its request hash


async def apply_batch(conn: aiosqlite.Connection, batch: list[Write]) -> list[Any]:
    """Apply a batch inside the caller's transaction; each write's result, in order."""
    accepts = [w.item for w in batch if w.item is not None]
    records = [w.record for w in batch if w.record is not None]
    finished = [(w.record.id,) for w in batch if w.record is not None and w.finish_inbox]
    if accepts:
        await _insert_accepts(conn, accepts)
    if records:
        await write_rows(conn, UPSERT, RECORD_ROW, [record_params(r) for r in records])
    if finished:
        await conn.executemany("UPDATE inbox SET done = 1 WHERE id = ?", finished)
    owners = await _idempotency_owners(conn, accepts)
    claims = [w.claim for w in batch if w.claim is not None]
    attempts = await claim_attempts(conn, claims, time.time()) if claims else {}
    job_results = {id(w): await w.job(conn) for w in batch if w.job is not None}
    return [_result(write, owners, attempts, job_results) for write in batch]


def _result(
    write: Write,
    owners: dict[_KeyScope, _Owner],
    attempts: dict[str, Attempt],
    job_results: dict[int, Any],
) -> Any:
    if write.claim is not None:
        return attempts[write.claim]
    if write.item is None:
        return job_results.get(id(write))
    return _accepted(write.item, owners)


async def _insert_accepts(conn: aiosqlite.Connection, accepts: list[InboxItem]) -> None:
    """Queued execution records, then inbox rows for those that went in (a duplicate
    idempotency key leaves no row of its own)."""
    executions = [
        (
            i.id,
            i.process,
            i.trigger,
            i.received_at,
            i.parent_id,
            i.idempotency_key,
            i.attempt,
            to_json(i.attempts),
            i.token_root,
            i.idempotency_scope,
            i.request_hash,
        )
        for i in accepts
    ]
    await write_rows(conn, ACCEPT_EXECUTION, ACCEPT_ROW, executions)
    inbox = [
        (
            i.id,
            i.process,
            i.trigger,
            i.received_at,
            orjson.dumps(i.request),
            i.idempotency_key,
            i.parent_id,
        )
        for i in accepts
    ]
    await write_rows(conn, ACCEPT_INBOX, INBOX_ROW, inbox)


def _accepted(item: InboxItem, owners: dict[_KeyScope, _Owner]) -> Accepted:
    """A new execution, the key's earlier one, or a conflict (same key, another request)."""
    key = (item.process, item.idempotency_scope, item.idempotency_key or "")
    owner, first_hash = owners.get(key, (item.id, item.request_hash))
    if owner == item.id:
        return Accepted(owner, duplicate=False)
    conflict = None not in (first_hash, item.request_hash) and first_hash != item.request_hash
    return Accepted(owner, duplicate=True, conflict=conflict)


async def _idempotency_owners(
    conn: aiosqlite.Connection, items: list[InboxItem]
) -> dict[_KeyScope, _Owner]:
    owners: dict[_KeyScope, _Owner] = {}
    for item in items:
        if item.idempotency_key is None:
            continue
        scope = (item.process, item.idempotency_scope, item.idempotency_key)
        found = await _find_key(conn, *scope)
        if found is not None:
            owners[scope] = found
    return owners


async def _find_key(
    conn: aiosqlite.Connection, process: str, scope: str, key: str
) -> _Owner | None:
    sql = (
        "SELECT id, request_hash FROM executions "
        "WHERE process = ? AND idempotency_scope = ? AND idempotency_key = ?"
    )
    async with conn.execute(sql, (process, scope, key)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (str(row[0]), row[1])
