"""SQLite schema, statements and row conversions for the embedded store.

Statements interpolate only constants and placeholders; values are always bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiosqlite

from runtime.formats.codecs import parse_json, serialize_json
from runtime.store.records import ExecutionRecord

MIGRATIONS: list[str] = [
    # 1: inbox and execution records
    """
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        process TEXT NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        duration_ms REAL,
        documents_in INTEGER NOT NULL DEFAULT 0,
        documents_out INTEGER NOT NULL DEFAULT 0,
        error BLOB,
        trace BLOB,
        input BLOB,
        output BLOB,
        parent_id TEXT,
        idempotency_key TEXT
    );
    CREATE INDEX executions_process ON executions (process, id);
    CREATE INDEX executions_status ON executions (status, id);
    CREATE UNIQUE INDEX executions_idempotency
        ON executions (process, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE TABLE inbox (
        id TEXT PRIMARY KEY,
        process TEXT NOT NULL,
        trigger TEXT NOT NULL,
        received_at REAL NOT NULL,
        request BLOB NOT NULL,
        idempotency_key TEXT,
        parent_id TEXT,
        done INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX inbox_pending ON inbox (done, id);
    """,
    # 2: schedule fire claims, pause flags, poller memory
    """
    CREATE TABLE schedule_fires (
        process TEXT NOT NULL,
        slot REAL NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        claimed_by TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        finished_at REAL,
        execution_id TEXT,
        executions INTEGER NOT NULL DEFAULT 0,
        error BLOB,
        PRIMARY KEY (process, slot)
    );
    CREATE INDEX schedule_fires_status ON schedule_fires (process, status);
    CREATE TABLE schedule_state (
        process TEXT PRIMARY KEY,
        paused INTEGER NOT NULL,
        changed_at REAL NOT NULL
    );
    CREATE TABLE poller_values (
        process TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB,
        updated_at REAL NOT NULL,
        PRIMARY KEY (process, key)
    );
    CREATE TABLE poller_items (
        process TEXT NOT NULL,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        claimed_by TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        finished_at REAL,
        execution_id TEXT,
        PRIMARY KEY (process, key)
    );
    """,
    # 3: API keys (hashes only) and quota counters
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        admin INTEGER NOT NULL,
        processes BLOB,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE TABLE quota_usage (
        key TEXT NOT NULL,
        period TEXT NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (key, period)
    );
    """,
    # 4: idempotency keys belong to a caller and to the request they were first used with
    """
    ALTER TABLE executions ADD COLUMN idempotency_scope TEXT NOT NULL DEFAULT '';
    ALTER TABLE executions ADD COLUMN request_hash TEXT;
    DROP INDEX executions_idempotency;
    CREATE UNIQUE INDEX executions_idempotency_scoped
        ON executions (process, idempotency_scope, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    """,
    # 5: attempts: an inbox item's claims by workers, each attempt's outcome in its record
    """
    ALTER TABLE inbox ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE executions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE executions ADD COLUMN attempts BLOB;
    ALTER TABLE executions ADD COLUMN token_root TEXT
    """,
]

RECORD_COLUMNS = (
    "id, process, trigger, status, created_at, started_at, finished_at, duration_ms, "
    "documents_in, documents_out, error, trace, input, output, parent_id, idempotency_key, "
    "attempt, attempts, token_root"
)
# Writes are multi-row statements: one sqlite3 step per batch instead of one per row, so
# the writer thread gives up and retakes the GIL once per batch, not once per request.
ROWS_PER_STATEMENT = 500
RECORD_ROW = "(" + ", ".join(["?"] * 19) + ")"
UPSERT = (
    f"INSERT INTO executions ({RECORD_COLUMNS}) VALUES {{rows}} "
    """ON CONFLICT (id) DO UPDATE SET
        status = excluded.status, started_at = excluded.started_at,
        finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
        documents_in = excluded.documents_in, documents_out = excluded.documents_out,
        error = excluded.error, trace = excluded.trace, input = excluded.input,
        output = excluded.output
    WHERE executions.status NOT IN ('succeeded', 'failed')
        OR excluded.status IN ('succeeded', 'failed')"""
)
ACCEPT_ROW = (
    "(?, ?, ?, 'queued', ?, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)"
)
ACCEPT_EXECUTION = (
    f"INSERT INTO executions ({RECORD_COLUMNS}, idempotency_scope, request_hash) "
    "VALUES {rows} ON CONFLICT DO NOTHING"
)
# Only items whose execution row went in (not an idempotent duplicate) enter the inbox.
INBOX_ROW = "(?, ?, ?, ?, ?, ?, ?)"
ACCEPT_INBOX = """
    INSERT INTO inbox (id, process, trigger, received_at, request, idempotency_key, parent_id)
    SELECT * FROM (VALUES {rows}) AS v
    WHERE EXISTS (SELECT 1 FROM executions AS e WHERE e.id = v.column1)
"""


async def write_rows(
    conn: aiosqlite.Connection, template: str, row: str, rows: list[tuple[Any, ...]]
) -> None:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        sql = template.format(rows=", ".join([row] * len(chunk)))
        await conn.execute(sql, [value for values in chunk for value in values])


def to_json(value: Any) -> bytes | None:
    """Record parts as JSON; integers beyond 64 bits are kept exactly (see codecs)."""
    return None if value is None else serialize_json(value)


def from_json(value: bytes | None) -> Any:
    return None if value is None else parse_json(value)


def record_params(record: ExecutionRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.process,
        record.trigger,
        record.status,
        record.created_at,
        record.started_at,
        record.finished_at,
        record.duration_ms,
        record.documents_in,
        record.documents_out,
        to_json(record.error),
        to_json(record.trace),
        to_json(record.input),
        to_json(record.output),
        record.parent_id,
        record.idempotency_key,
        record.attempt,
        to_json(record.attempts or None),
        record.token_root,
    )


def record_from_row(row: Iterable[Any]) -> ExecutionRecord:
    (id_, process, trigger, status, created, started, finished, duration, d_in, d_out,
     error, trace, input_, output, parent, key, attempt, attempts, root) = row  # fmt: skip
    return ExecutionRecord(
        id=id_,
        process=process,
        trigger=trigger,
        status=status,
        created_at=created,
        started_at=started,
        finished_at=finished,
        duration_ms=duration,
        documents_in=d_in,
        documents_out=d_out,
        error=from_json(error),
        trace=from_json(trace) or [],
        input=from_json(input_),
        output=from_json(output),
        parent_id=parent,
        idempotency_key=key,
        attempt=attempt,
        attempts=from_json(attempts) or [],
        token_root=root,
    )
