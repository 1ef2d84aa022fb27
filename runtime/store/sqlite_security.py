"""The SQLite store's security state: API key hashes and quota counters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from runtime.store.base import ApiKeyRecord
from runtime.store.sqlite_sql import from_json, to_json

Job = Callable[[aiosqlite.Connection], Awaitable[Any]]
KEY_COLUMNS = "id, name, hash, admin, processes, created_at, revoked_at"


class SecurityState:
    """Mixed into SQLiteStore, which provides `_run_job` and `_fetch`."""

    async def _run_job(self, job: Job) -> Any:
        raise NotImplementedError

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError

    async def add_api_key(self, key: ApiKeyRecord) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.name,
                    key.hash,
                    int(key.admin),
                    to_json(key.processes),
                    key.created_at,
                    key.revoked_at,
                ),
            )

        await self._run_job(job)

    async def api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")
        return [
            ApiKeyRecord(id_, name, hash_, bool(admin), from_json(processes), created, revoked)
            for id_, name, hash_, admin, processes, created, revoked in rows
        ]

    async def revoke_api_key(self, key_id: str) -> bool:
        async def job(conn: aiosqlite.Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
            return cursor.rowcount == 1

        revoked: bool = await self._run_job(job)
        return revoked

    async def consume_quota(self, key: str, period: str, amount: int, limit: int) -> int | None:
        async def job(conn: aiosqlite.Connection) -> int | None:
            async with conn.execute(
                "INSERT INTO quota_usage (key, period, used) SELECT ?, ?, ? WHERE ? <= ? "
                "ON CONFLICT (key, period) DO UPDATE SET used = used + excluded.used "
                "WHERE quota_usage.used + excluded.used <= ? RETURNING used",
                (key, period, amount, amount, limit, limit),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            return int(row[0])

        total: int | None = await self._run_job(job)
        return total
