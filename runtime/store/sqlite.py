"""The embedded store: SQLite through aiosqlite, WAL, `synchronous=FULL`, group commit.

Writes are queued and applied by one writer task: every write waiting at that moment
shares one transaction and so one fsync. A burst of 500 accepted requests costs a handful
of commits, not 500. Each writer call still returns only after its commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from runtime.store.base import (
    Accepted,
    Attempt,
    ExecutionQuery,
    ExecutionRecord,
    InboxItem,
    Store,
)
from runtime.store.sqlite_attempts import claim_attempts
from runtime.store.sqlite_schedules import ScheduleState
from runtime.store.sqlite_security import SecurityState
from runtime.store.sqlite_sql import (
    ACCEPT_EXECUTION,
    ACCEPT_INBOX,
    ACCEPT_ROW,
    INBOX_ROW,
    MIGRATIONS,
    RECORD_COLUMNS,
    RECORD_ROW,
    UPSERT,
    record_from_row,
    record_params,
    to_json,
    write_rows,
)

log = logging.getLogger("wharf.store")


def _quota_horizon(now: float) -> tuple[str, str]:
    """Day counters older than a week and month counters older than a year are spent."""
    day = datetime.fromtimestamp(now - 7 * 86400, UTC).strftime("day:%Y-%m-%d")
    month = datetime.fromtimestamp(now - 366 * 86400, UTC).strftime("month:%Y-%m")
    return day, month


Job = Callable[[aiosqlite.Connection], Awaitable[Any]]


class _Write:
    """One queued write: an accepted item, a record, or a job (e.g. pruning), or nothing
    (a barrier that only waits for the writes queued before it). Without a future nobody
    waits for it (a record queued "soon"); a failed batch is logged either way."""

    __slots__ = ("claim", "finish_inbox", "future", "item", "job", "record")

    def __init__(
        self,
        future: asyncio.Future[Any] | None,
        item: InboxItem | None = None,
        record: ExecutionRecord | None = None,
        finish_inbox: bool = False,
        job: Job | None = None,
        claim: str | None = None,  # an inbox item a worker starts (its result: the Attempt)
    ):
        self.future = future
        self.item = item
        self.record = record
        self.finish_inbox = finish_inbox
        self.job = job
        self.claim = claim


_KeyScope = tuple[str, str, str]  # process, caller scope, idempotency key
_Owner = tuple[str, str | None]  # the execution a key names, its request hash


def _accepted(item: InboxItem, owners: dict[_KeyScope, _Owner]) -> Accepted:
    """A new execution, the key's earlier one, or a conflict (same key, another request)."""
    key = (item.process, item.idempotency_scope, item.idempotency_key or "")
    owner, first_hash = owners.get(key, (item.id, item.request_hash))
    if owner == item.id:
        return Accepted(owner, duplicate=False)
    conflict = None not in (first_hash, item.request_hash) and first_hash != item.request_hash
    return Accepted(owner, duplicate=True, conflict=conflict)


class SQLiteStore(ScheduleState, SecurityState, Store):
    def __init__(self, path: str, *, max_batch: int = 1024):
        self.path = path
        self.max_batch = max_batch
        self._conn: aiosqlite.Connection | None = None
        self._pending: list[_Write] = []
        self._applying = False  # a batch is being written
        self.commits = 0  # transactions committed by the writer (group-commit observability)
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open")
        return self._conn

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self.conn.execute("PRAGMA journal_mode=WAL")
        await self.conn.execute("PRAGMA synchronous=FULL")
        await self.conn.execute("PRAGMA busy_timeout=10000")
        await self._migrate()
        self._writer = asyncio.create_task(self._write_loop(), name="wharf-store-writer")

    async def _migrate(self) -> None:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            await self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            async with self.conn.execute("SELECT max(version) FROM schema_version") as cursor:
                row = await cursor.fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                log.info("store: applying migration %d", version)
                for statement in filter(str.strip, script.split(";")):
                    await self.conn.execute(statement)
                await self.conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._writer is not None:
            await self._writer
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ping(self) -> bool:
        try:
            async with self.conn.execute("SELECT 1") as cursor:
                return (await cursor.fetchone()) is not None
        except Exception:
            return False

    # --- writes, group-committed -------------------------------------------------------

    def _submit(self, write: _Write) -> asyncio.Future[Any]:
        """Queue a write that someone waits for; its future gives the result."""
        assert write.future is not None
        self._enqueue(write)
        return write.future

    def _enqueue(self, write: _Write) -> None:
        if self._closing:
            raise RuntimeError("the store is closing")
        self._pending.append(write)
        self._wakeup.set()

    async def accept(self, item: InboxItem) -> Accepted:
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        accepted: Accepted = await self._submit(_Write(future, item=item))
        return accepted

    async def save_execution(self, record: ExecutionRecord, *, finish_inbox: bool = False) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._submit(_Write(future, record=record, finish_inbox=finish_inbox))

    def save_execution_soon(self, record: ExecutionRecord) -> None:
        self._enqueue(_Write(None, record=record))  # no future: the hot path of sync runs

    async def flush(self) -> None:
        await self._barrier()

    @property
    def pending_writes(self) -> int:
        return len(self._pending)

    async def _run_job(self, job: Job) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        return await self._submit(_Write(future, job=job))

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        await self._barrier()
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def _barrier(self) -> None:
        """Wait until every write submitted so far is committed (read-your-writes)."""
        if self._pending or self._applying:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self._submit(_Write(future))

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                self._applying = True
                try:
                    results = await self._apply(batch)
                except Exception as exc:
                    log.exception("store: a batch of %d write(s) failed", len(batch))
                    for write in batch:
                        if write.future is not None and not write.future.done():
                            write.future.set_exception(exc)
                    continue
                finally:
                    self._applying = False
                for write, result in zip(batch, results, strict=True):
                    if write.future is not None and not write.future.done():
                        write.future.set_result(result)
            if self._closing and not self._pending:
                return

    async def _apply(self, batch: list[_Write]) -> list[Any]:
        accepts = [w.item for w in batch if w.item is not None]
        records = [w.record for w in batch if w.record is not None]
        finished = [(w.record.id,) for w in batch if w.record is not None and w.finish_inbox]
        conn = self.conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if accepts:
                await write_rows(
                    conn,
                    ACCEPT_EXECUTION,
                    ACCEPT_ROW,
                    [
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
                    ],
                )
                await write_rows(
                    conn,
                    ACCEPT_INBOX,
                    INBOX_ROW,
                    [
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
                    ],
                )
            if records:
                await write_rows(conn, UPSERT, RECORD_ROW, [record_params(r) for r in records])
            if finished:
                await conn.executemany("UPDATE inbox SET done = 1 WHERE id = ?", finished)
            owners = await self._idempotency_owners(accepts)
            claims = [w.claim for w in batch if w.claim is not None]
            attempts = await claim_attempts(conn, claims, time.time()) if claims else {}
            job_results = {id(w): await w.job(conn) for w in batch if w.job is not None}
            await conn.execute("COMMIT")
            self.commits += 1
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        results: list[Any] = []
        for write in batch:
            if write.claim is not None:
                results.append(attempts[write.claim])
                continue
            if write.item is None:
                results.append(job_results.get(id(write)))
                continue
            results.append(_accepted(write.item, owners))
        return results

    async def _idempotency_owners(self, items: list[InboxItem]) -> dict[_KeyScope, _Owner]:
        owners: dict[_KeyScope, _Owner] = {}
        for item in items:
            if item.idempotency_key is None:
                continue
            scope = (item.process, item.idempotency_scope, item.idempotency_key)
            found = await self._find_key(*scope)
            if found is not None:
                owners[scope] = found
        return owners

    async def _find_key(self, process: str, scope: str, key: str) -> _Owner | None:
        sql = (
            "SELECT id, request_hash FROM executions "
            "WHERE process = ? AND idempotency_scope = ? AND idempotency_key = ?"
        )
        async with self.conn.execute(sql, (process, scope, key)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else (str(row[0]), row[1])

    async def start_attempt(self, execution_id: str) -> Attempt:
        future: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        attempt: Attempt = await self._submit(_Write(future, claim=execution_id))
        return attempt

    async def finish_and_start(self, record: ExecutionRecord, next_id: str) -> Attempt:
        future: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        write = _Write(future, record=record, finish_inbox=True, claim=next_id)
        attempt: Attempt = await self._submit(write)
        return attempt

    # --- reads ---------------------------------------------------------------------------

    async def find_idempotent(self, process: str, key: str, scope: str = "") -> str | None:
        await self._barrier()
        found = await self._find_key(process, scope, key)
        return None if found is None else found[0]

    async def unfinished(self) -> list[InboxItem]:
        await self._barrier()
        sql = (
            "SELECT id, process, trigger, received_at, request, idempotency_key, parent_id "
            "FROM inbox WHERE done = 0 ORDER BY id"
        )
        async with self.conn.execute(sql) as cursor:
            rows = await cursor.fetchall()
        return [
            InboxItem(id_, process, trigger, received, orjson.loads(request), key, parent)
            for id_, process, trigger, received, request, key, parent in rows
        ]

    async def inbox_request(self, execution_id: str) -> dict[str, Any] | None:
        await self._barrier()
        async with self.conn.execute(
            "SELECT request FROM inbox WHERE id = ?", (execution_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        await self._barrier()
        sql = f"SELECT {RECORD_COLUMNS} FROM executions WHERE id = ?"
        async with self.conn.execute(sql, (execution_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else record_from_row(row)

    async def list_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        await self._barrier()
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("process", query.process), ("status", query.status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            clauses.append("created_at >= ?")
            params.append(query.since)
        if query.until is not None:
            clauses.append("created_at < ?")
            params.append(query.until)
        if query.cursor is not None:
            clauses.append("id < ?")
            params.append(query.cursor)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {RECORD_COLUMNS} FROM executions {where} ORDER BY id DESC LIMIT ?"
        async with self.conn.execute(sql, (*params, query.limit)) as cursor:
            rows = await cursor.fetchall()
        return [record_from_row(row) for row in rows]

    async def prune(self, *, older_than: float | None, keep: int | None) -> int:
        finished = "status IN ('succeeded', 'failed')"

        async def job(conn: aiosqlite.Connection) -> int:
            deleted = 0
            if older_than is not None:
                cursor = await conn.execute(
                    f"DELETE FROM executions WHERE {finished} AND created_at < ?", (older_than,)
                )
                deleted += cursor.rowcount
            if keep is not None:
                cursor = await conn.execute(
                    f"DELETE FROM executions WHERE {finished} AND id NOT IN "
                    "(SELECT id FROM executions ORDER BY id DESC LIMIT ?)",
                    (keep,),
                )
                deleted += cursor.rowcount
            await conn.execute(
                "DELETE FROM inbox WHERE done = 1 AND id NOT IN (SELECT id FROM executions)"
            )
            if older_than is not None:  # each schedule keeps its newest fire (misfire check)
                await conn.execute(
                    "DELETE FROM schedule_fires WHERE slot < ? AND finished_at IS NOT NULL "
                    "AND slot < (SELECT max(slot) FROM schedule_fires AS newest "
                    "WHERE newest.process = schedule_fires.process)",
                    (older_than,),
                )
            if older_than is not None:  # files moved or deleted; kept ones stay remembered
                await conn.execute(
                    "DELETE FROM poller_items WHERE status IN ('done', 'error', 'changed') "
                    "AND finished_at < ?",
                    (older_than,),
                )
            await conn.execute(  # quota counters of periods long over
                "DELETE FROM quota_usage WHERE (period LIKE 'day:%' AND period < ?) "
                "OR (period LIKE 'month:%' AND period < ?)",
                _quota_horizon(time.time()),
            )
            return deleted

        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        deleted: int = await self._submit(_Write(future, job=job))
        return deleted
