"""The SQLite store's fire ledger: schedule fire claims and pause flags.

Every claim is a job on the store's writer, so it runs inside a `BEGIN IMMEDIATE`
transaction: the check ("is a fire of this process running?") and the write are atomic
across every runtime sharing the database file.
"""

from __future__ import annotations

import time
from typing import Any

import aiosqlite

from runtime.store.protocols import FireLedger
from runtime.store.records import FireRecord
from runtime.store.sqlite_sql import from_json, to_json
from runtime.store.sqlite_writer import SQLitePart

FIRE_COLUMNS = (
    "process, slot, kind, status, claimed_by, claimed_at, heartbeat_at, finished_at, "
    "execution_id, executions, error"
)
INSERT_FIRE = (
    f"INSERT INTO schedule_fires ({FIRE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (process, slot) DO NOTHING"
)
# One statement per claim: the overlap check, the insert and its outcome (RETURNING gives
# no row when the slot was already claimed).
_BUSY = (
    "(:overlap != 'allow' AND EXISTS (SELECT 1 FROM schedule_fires WHERE process = :process "
    "AND slot != :slot AND status = 'running' AND heartbeat_at >= :stale))"
)
_STATUS = f"CASE WHEN {_BUSY} THEN (CASE :overlap WHEN 'skip' THEN 'skipped' ELSE 'queued' END) "
CLAIM_FIRE = f"""
    INSERT INTO schedule_fires ({FIRE_COLUMNS})
    SELECT :process, :slot, :kind, {_STATUS} ELSE 'running' END, :claimed_by, :claimed_at,
        :heartbeat_at, CASE WHEN :overlap = 'skip' AND {_BUSY} THEN :claimed_at END, NULL, 0,
        NULL
    WHERE true
    ON CONFLICT (process, slot) DO NOTHING
    RETURNING status
"""
OTHER_RUNNING = (
    "SELECT 1 FROM schedule_fires WHERE process = ? AND slot != ? AND status = 'running' "
    "AND heartbeat_at >= ? LIMIT 1"
)


def _fire_params(fire: FireRecord) -> tuple[Any, ...]:
    return (
        fire.process,
        fire.slot,
        fire.kind,
        fire.status,
        fire.claimed_by,
        fire.claimed_at,
        fire.heartbeat_at,
        fire.finished_at,
        fire.execution_id,
        fire.executions,
        to_json(fire.error),
    )


def _fire_from_row(row: Any) -> FireRecord:
    (
        process,
        slot,
        kind,
        status,
        claimed_by,
        claimed_at,
        heartbeat,
        finished,
        execution,
        count,
        error,
    ) = row
    return FireRecord(
        process, slot, kind, status, claimed_by, claimed_at, heartbeat, finished, execution, count,
        from_json(error),
    )  # fmt: skip


class SQLiteFireLedger(SQLitePart, FireLedger):
    """Claims are jobs on the writer (atomic); reads see the writes before them."""

    async def claim_fire(self, fire: FireRecord, *, overlap: str, stale_before: float) -> str:
        params = {
            "process": fire.process,
            "slot": fire.slot,
            "kind": fire.kind,
            "claimed_by": fire.claimed_by,
            "claimed_at": fire.claimed_at,
            "heartbeat_at": fire.heartbeat_at,
            "overlap": overlap,
            "stale": stale_before,
        }

        async def job(conn: aiosqlite.Connection) -> str:
            async with conn.execute(CLAIM_FIRE, params) as cursor:
                row = await cursor.fetchone()
            return "taken" if row is None else str(row[0])

        result: str = await self._writer.run_job(job)
        return result

    async def start_queued_fire(self, process: str, slot: float, stale_before: float) -> bool:
        async def job(conn: aiosqlite.Connection) -> bool:
            async with conn.execute(OTHER_RUNNING, (process, slot, stale_before)) as cursor:
                if await cursor.fetchone() is not None:
                    return False
            await conn.execute(
                "UPDATE schedule_fires SET status = 'running', heartbeat_at = ? "
                "WHERE process = ? AND slot = ? AND status = 'queued'",
                (time.time(), process, slot),
            )
            return True

        started: bool = await self._writer.run_job(job)
        return started

    async def finish_fire(self, fire: FireRecord) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE schedule_fires SET status = ?, finished_at = ?, heartbeat_at = ?, "
                "execution_id = ?, executions = ?, error = ? WHERE process = ? AND slot = ?",
                (
                    fire.status,
                    fire.finished_at,
                    fire.heartbeat_at,
                    fire.execution_id,
                    fire.executions,
                    to_json(fire.error),
                    fire.process,
                    fire.slot,
                ),
            )

        await self._writer.run_job(job)

    async def heartbeat_fires(self, keys: list[tuple[str, float]], now: float) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "UPDATE schedule_fires SET heartbeat_at = ? WHERE process = ? AND slot = ?",
                [(now, process, slot) for process, slot in keys],
            )

        await self._writer.run_job(job)

    async def record_missed_fires(self, fires: list[FireRecord]) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.executemany(INSERT_FIRE, [_fire_params(fire) for fire in fires])

        await self._writer.run_job(job)

    async def last_fire_slot(self, process: str) -> float | None:
        rows = await self._writer.fetch(
            "SELECT max(slot) FROM schedule_fires WHERE process = ?", (process,)
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def unfinished_fires(self) -> list[FireRecord]:
        rows = await self._writer.fetch(
            f"SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE status IN ('running', 'queued')"
        )
        return [_fire_from_row(row) for row in rows]

    async def list_fires(self, process: str, limit: int = 20) -> list[FireRecord]:
        rows = await self._writer.fetch(
            f"SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE process = ? "
            "ORDER BY slot DESC LIMIT ?",
            (process, limit),
        )
        return [_fire_from_row(row) for row in rows]

    async def set_paused(self, process: str, paused: bool) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO schedule_state (process, paused, changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (process) DO UPDATE SET paused = excluded.paused, "
                "changed_at = excluded.changed_at",
                (process, int(paused), time.time()),
            )

        await self._writer.run_job(job)

    async def paused_processes(self) -> set[str]:
        rows = await self._writer.fetch("SELECT process FROM schedule_state WHERE paused = 1")
        return {str(row[0]) for row in rows}
