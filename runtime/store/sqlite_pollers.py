"""The SQLite store's poller memory: values (watermarks, ETags) and claimed items.

Claims are jobs on the store's writer, inside a `BEGIN IMMEDIATE` transaction, so an item
is claimed once across every runtime sharing the database file.
"""

from __future__ import annotations

import time
from typing import Any

import aiosqlite

from runtime.store.protocols import PollerMemory
from runtime.store.sqlite_sql import from_json, to_json
from runtime.store.sqlite_writer import SQLitePart


class SQLitePollerMemory(SQLitePart, PollerMemory):
    """Values are JSON; item keys are the poller's own (e.g. path|size|mtime)."""

    async def poller_value(self, process: str, key: str) -> Any:
        rows = await self._writer.fetch(
            "SELECT value FROM poller_values WHERE process = ? AND key = ?", (process, key)
        )
        return from_json(rows[0][0]) if rows else None

    async def set_poller_value(self, process: str, key: str, value: Any) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO poller_values (process, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (process, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (process, key, to_json(value), time.time()),
            )

        await self._writer.run_job(job)

    async def known_items(self, process: str, keys: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join(["?"] * len(chunk))
            rows = await self._writer.fetch(
                f"SELECT key FROM poller_items WHERE process = ? AND key IN ({marks}) "
                "AND status != 'running'",
                (process, *chunk),
            )
            known.update(str(row[0]) for row in rows)
        return known

    async def claim_item(self, process: str, key: str, claimant: str, stale_before: float) -> bool:
        async def job(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "INSERT INTO poller_items (process, key, status, claimed_by, claimed_at) "
                "VALUES (?, ?, 'running', ?, ?) ON CONFLICT (process, key) DO UPDATE SET "
                "claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at "
                "WHERE poller_items.status = 'running' AND poller_items.claimed_at < ?",
                (process, key, claimant, time.time(), stale_before),
            )
            return cursor.rowcount == 1

        claimed: bool = await self._writer.run_job(job)
        return claimed

    async def finish_item(
        self, process: str, key: str, status: str, execution_id: str | None
    ) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE poller_items SET status = ?, execution_id = ?, finished_at = ? "
                "WHERE process = ? AND key = ?",
                (status, execution_id, time.time(), process, key),
            )

        await self._writer.run_job(job)

    async def release_item(self, process: str, key: str) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "DELETE FROM poller_items WHERE process = ? AND key = ?", (process, key)
            )

        await self._writer.run_job(job)
