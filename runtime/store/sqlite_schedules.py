"""The SQLite store's schedule and poller state: fire claims, pause flags, poller memory.

Every claim is a job on the store's writer, so it runs inside a `BEGIN IMMEDIATE`
transaction: the check ("is a fire of this process running?") and the write are atomic
across every runtime sharing the database file.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from runtime.store.base import FireRecord
from runtime.store.sqlite_sql import from_json, to_json

Job = Callable[[aiosqlite.Connection], Awaitable[Any]]

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


class ScheduleState:
    """Mixed into SQLiteStore, which provides `_run_job` (a write on the writer) and
    `_fetch` (a read after a barrier)."""

    async def _run_job(self, job: Job) -> Any:
        raise NotImplementedError

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        raise NotImplementedError

    # --- fires --------------------------------------------------------------------------

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

        result: str = await self._run_job(job)
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

        started: bool = await self._run_job(job)
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

        await self._run_job(job)

    async def heartbeat_fires(self, keys: list[tuple[str, float]], now: float) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.executemany(
                "UPDATE schedule_fires SET heartbeat_at = ? WHERE process = ? AND slot = ?",
                [(now, process, slot) for process, slot in keys],
            )

        await self._run_job(job)

    async def record_missed_fires(self, fires: list[FireRecord]) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.executemany(INSERT_FIRE, [_fire_params(fire) for fire in fires])

        await self._run_job(job)

    async def last_fire_slot(self, process: str) -> float | None:
        rows = await self._fetch(
            "SELECT max(slot) FROM schedule_fires WHERE process = ?", (process,)
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def unfinished_fires(self) -> list[FireRecord]:
        rows = await self._fetch(
            f"SELECT {FIRE_COLUMNS} FROM schedule_fires WHERE status IN ('running', 'queued')"
        )
        return [_fire_from_row(row) for row in rows]

    async def list_fires(self, process: str, limit: int = 20) -> list[FireRecord]:
        rows = await self._fetch(
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

        await self._run_job(job)

    async def paused_processes(self) -> set[str]:
        rows = await self._fetch("SELECT process FROM schedule_state WHERE paused = 1")
        return {str(row[0]) for row in rows}

    # --- pollers ------------------------------------------------------------------------

    async def poller_value(self, process: str, key: str) -> Any:
        rows = await self._fetch(
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

        await self._run_job(job)

    async def known_items(self, process: str, keys: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join(["?"] * len(chunk))
            rows = await self._fetch(
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

        claimed: bool = await self._run_job(job)
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

        await self._run_job(job)

    async def release_item(self, process: str, key: str) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "DELETE FROM poller_items WHERE process = ? AND key = ?", (process, key)
            )

        await self._run_job(job)
