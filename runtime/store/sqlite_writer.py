"""The SQLite store's connection and its one writer: WAL, `synchronous=FULL`, group commit.

Writes are queued and applied by one writer task: every write waiting at that moment
shares one transaction and so one fsync. A burst of 500 accepted requests costs a handful
of commits, not 500. Each writer call still returns only after its commit. Reads wait for
the writes submitted before them (a barrier), so every read sees its caller's writes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiosqlite

from runtime.store.sqlite_batch import Job, Write, apply_batch
from runtime.store.sqlite_sql import MIGRATIONS

log = logging.getLogger("wharf.store")


class SQLiteWriter:
    """One database file (or `:memory:`): its connection, migrations and write queue."""

    def __init__(self, path: str, *, max_batch: int = 1024):
        self.path = path
        self.max_batch = max_batch
        self._conn: aiosqlite.Connection | None = None
        self._pending: list[Write] = []
        self._applying = False  # a batch is being written
        self.commits = 0  # transactions committed by the writer (group-commit observability)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
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
        self._task = asyncio.create_task(self._write_loop(), name="wharf-store-writer")

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
        if self._task is not None:
            await self._task
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ping(self) -> bool:
        try:
            async with self.conn.execute("SELECT 1") as cursor:
                return (await cursor.fetchone()) is not None
        except Exception:
            return False

    # --- the queue ----------------------------------------------------------------------

    def submit(self, write: Write) -> asyncio.Future[Any]:
        """Queue a write that someone waits for; its future gives the result."""
        write.future = asyncio.get_running_loop().create_future()
        self.enqueue(write)
        return write.future

    def enqueue(self, write: Write) -> None:
        """Queue a write; nobody waits for it unless it has a future."""
        if self._closing:
            raise RuntimeError("the store is closing")
        self._pending.append(write)
        self._wakeup.set()

    @property
    def pending_writes(self) -> int:
        return len(self._pending)

    async def run_job(self, job: Job) -> Any:
        """Run a job on the writer, inside a write transaction; its result."""
        return await self.submit(Write(job=job))

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a read made after every write submitted so far."""
        await self.barrier()
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def barrier(self) -> None:
        """Wait until every write submitted so far is committed (read-your-writes)."""
        if self._pending or self._applying:
            await self.submit(Write())

    # --- the writer task ------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                self._applying = True
                try:
                    results = await self._commit(batch)
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

    async def _commit(self, batch: list[Write]) -> list[Any]:
        conn = self.conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            results = await apply_batch(conn, batch)
            await conn.execute("COMMIT")
            self.commits += 1
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        return results


class SQLitePart:
    """One concern of the SQLite store (its inbox, fire ledger...): every concern reads and
    writes through the store's one writer, so they all share its group commits."""

    def __init__(self, writer: SQLiteWriter) -> None:
        self._writer = writer
