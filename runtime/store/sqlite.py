"""The embedded store: SQLite through aiosqlite, one class per concern over one writer.

Each concern (`sqlite_executions`, `sqlite_fires`, `sqlite_pollers`, `sqlite_security`)
implements its protocol; `SQLiteStore` composes them over one `SQLiteWriter` (WAL,
`synchronous=FULL`, group commit: see `sqlite_writer`) and adds the lifecycle and
retention, which span every table.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import aiosqlite

from runtime.store.protocols import Store
from runtime.store.sqlite_executions import SQLiteInbox
from runtime.store.sqlite_fires import SQLiteFireLedger
from runtime.store.sqlite_pollers import SQLitePollerMemory
from runtime.store.sqlite_security import SQLiteKeyRing, SQLiteQuotaLedger
from runtime.store.sqlite_writer import SQLiteWriter

_FINISHED = "status IN ('succeeded', 'failed')"


def _quota_horizon(now: float) -> tuple[str, str]:
    """Day counters older than a week and month counters older than a year are spent."""
    day = datetime.fromtimestamp(now - 7 * 86400, UTC).strftime("day:%Y-%m-%d")
    month = datetime.fromtimestamp(now - 366 * 86400, UTC).strftime("month:%Y-%m")
    return day, month


class SQLiteStore(
    SQLiteInbox,
    SQLiteFireLedger,
    SQLitePollerMemory,
    SQLiteKeyRing,
    SQLiteQuotaLedger,
    Store,
):
    def __init__(self, path: str, *, max_batch: int = 1024):
        super().__init__(SQLiteWriter(path, max_batch=max_batch))

    @property
    def path(self) -> str:
        return self._writer.path

    @property
    def conn(self) -> aiosqlite.Connection:
        return self._writer.conn

    @property
    def commits(self) -> int:
        """Transactions committed by the writer (group-commit observability)."""
        return self._writer.commits

    async def open(self) -> None:
        await self._writer.open()

    async def close(self) -> None:
        await self._writer.close()

    async def ping(self) -> bool:
        return await self._writer.ping()

    async def prune(self, *, older_than: float | None, keep: int | None) -> int:
        async def job(conn: aiosqlite.Connection) -> int:
            deleted = await _prune_executions(conn, older_than, keep)
            await conn.execute(
                "DELETE FROM inbox WHERE done = 1 AND id NOT IN (SELECT id FROM executions)"
            )
            if older_than is not None:
                await _prune_fires_and_items(conn, older_than)
            await conn.execute(  # quota counters of periods long over
                "DELETE FROM quota_usage WHERE (period LIKE 'day:%' AND period < ?) "
                "OR (period LIKE 'month:%' AND period < ?)",
                _quota_horizon(time.time()),
            )
            return deleted

        deleted: int = await self._writer.run_job(job)
        return deleted


async def _prune_executions(
    conn: aiosqlite.Connection, older_than: float | None, keep: int | None
) -> int:
    deleted = 0
    if older_than is not None:
        cursor = await conn.execute(
            f"DELETE FROM executions WHERE {_FINISHED} AND created_at < ?", (older_than,)
        )
        deleted += cursor.rowcount
    if keep is not None:
        cursor = await conn.execute(
            f"DELETE FROM executions WHERE {_FINISHED} AND id NOT IN "
            "(SELECT id FROM executions ORDER BY id DESC LIMIT ?)",
            (keep,),
        )
        deleted += cursor.rowcount
    return deleted


async def _prune_fires_and_items(conn: aiosqlite.Connection, older_than: float) -> None:
    await conn.execute(  # each schedule keeps its newest fire (the misfire check needs it)
        "DELETE FROM schedule_fires WHERE slot < ? AND finished_at IS NOT NULL "
        "AND slot < (SELECT max(slot) FROM schedule_fires AS newest "
        "WHERE newest.process = schedule_fires.process)",
        (older_than,),
    )
    await conn.execute(  # files moved or deleted; kept ones stay remembered
        "DELETE FROM poller_items WHERE status IN ('done', 'error', 'changed') AND finished_at < ?",
        (older_than,),
    )
