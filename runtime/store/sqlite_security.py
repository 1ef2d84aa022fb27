"""The SQLite store's key ring (API key hashes) and quota ledger (request counters)."""

from __future__ import annotations

import time

import aiosqlite

from runtime.store.protocols import KeyRing, QuotaLedger
from runtime.store.records import ApiKeyRecord
from runtime.store.sqlite_sql import from_json, to_json
from runtime.store.sqlite_writer import SQLitePart

KEY_COLUMNS = "id, name, hash, admin, processes, created_at, revoked_at"


class SQLiteKeyRing(SQLitePart, KeyRing):
    """A key is kept as its id, name, scope and the SHA-256 of its secret, never the secret."""

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

        await self._writer.run_job(job)

    async def api_keys(self) -> list[ApiKeyRecord]:
        rows = await self._writer.fetch(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")
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

        revoked: bool = await self._writer.run_job(job)
        return revoked


class SQLiteQuotaLedger(SQLitePart, QuotaLedger):
    """One row per (key, period); counting is a single conditional upsert."""

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

        total: int | None = await self._writer.run_job(job)
        return total
