"""Claiming inbox items for a run, as attempts, in the SQLite store.

A worker's claim is committed before the steps run, so a crash mid-run is visible: the
next claim of an item that was claimed and never finished records the cut-off attempt
as `interrupted`. Claims of one write batch share three statements, whatever their number
(claims sit on every async execution's path).
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from runtime.store.records import INTERRUPTED, Attempt
from runtime.store.sqlite_sql import from_json, to_json

_UNFINISHED = "status NOT IN ('succeeded', 'failed')"


async def claim_attempts(
    conn: aiosqlite.Connection, ids: list[str], started_at: float
) -> dict[str, Attempt]:
    """The attempt each item starts now; marks their records running."""
    marks = ", ".join(["?"] * len(ids))
    claims: dict[str, int] = {}
    sql = f"UPDATE inbox SET claims = claims + 1 WHERE id IN ({marks}) RETURNING id, claims"
    async with conn.execute(sql, ids) as cursor:
        for execution_id, count in await cursor.fetchall():
            claims[execution_id] = int(count)
    sql = (
        "SELECT id, attempt, attempts, started_at, token_root FROM executions "
        f"WHERE id IN ({marks})"
    )
    async with conn.execute(sql, ids) as cursor:
        rows = await cursor.fetchall()
    attempts: dict[str, Attempt] = {}
    first_claims: list[str] = []
    for execution_id, number, stored, last_started, root in rows:
        earlier: list[dict[str, Any]] = from_json(stored) or []
        if claims.get(execution_id, 1) == 1:
            first_claims.append(execution_id)
            attempts[execution_id] = Attempt(number, earlier, root)
            continue
        earlier.append(_interrupted(execution_id, number, last_started))
        attempts[execution_id] = Attempt(number + 1, earlier, root)
        await conn.execute(
            "UPDATE executions SET status = 'running', started_at = ?, attempt = ?, "
            f"attempts = ? WHERE id = ? AND {_UNFINISHED}",
            (started_at, number + 1, to_json(earlier), execution_id),
        )
    if first_claims:
        marks = ", ".join(["?"] * len(first_claims))
        await conn.execute(
            f"UPDATE executions SET status = 'running', started_at = ? "
            f"WHERE id IN ({marks}) AND {_UNFINISHED}",
            [started_at, *first_claims],
        )
    return {execution_id: attempts.get(execution_id, Attempt(1, [])) for execution_id in ids}


def _interrupted(execution_id: str, number: int, started_at: float | None) -> dict[str, Any]:
    return {
        "attempt": number,
        "execution_id": execution_id,
        "status": "interrupted",
        "started_at": started_at,
        "finished_at": None,
        "duration_ms": None,
        "error": INTERRUPTED,
    }
