"""The SQLite store's execution log and inbox: records, accepted requests, attempts."""

from __future__ import annotations

from typing import Any

import orjson

from runtime.store.protocols import Inbox
from runtime.store.records import Accepted, Attempt, ExecutionQuery, ExecutionRecord, InboxItem
from runtime.store.sqlite_batch import Write
from runtime.store.sqlite_sql import RECORD_COLUMNS, record_from_row
from runtime.store.sqlite_writer import SQLitePart


class SQLiteInbox(SQLitePart, Inbox):
    """Accepts, claims and record writes are group-committed; see `sqlite_batch`."""

    # --- writes ----------------------------------------------------------------------------

    async def accept(self, item: InboxItem) -> Accepted:
        accepted: Accepted = await self._writer.submit(Write(item=item))
        return accepted

    async def start_attempt(self, execution_id: str) -> Attempt:
        attempt: Attempt = await self._writer.submit(Write(claim=execution_id))
        return attempt

    async def finish_and_start(self, record: ExecutionRecord, next_id: str) -> Attempt:
        write = Write(record=record, finish_inbox=True, claim=next_id)
        attempt: Attempt = await self._writer.submit(write)
        return attempt

    async def save_execution(self, record: ExecutionRecord, *, finish_inbox: bool = False) -> None:
        await self._writer.submit(Write(record=record, finish_inbox=finish_inbox))

    def save_execution_soon(self, record: ExecutionRecord) -> None:
        self._writer.enqueue(Write(record=record))  # no future: the hot path of sync runs

    async def flush(self) -> None:
        await self._writer.barrier()

    @property
    def pending_writes(self) -> int:
        return self._writer.pending_writes

    # --- reads -----------------------------------------------------------------------------

    async def unfinished(self) -> list[InboxItem]:
        rows = await self._writer.fetch(
            "SELECT id, process, trigger, received_at, request, idempotency_key, parent_id "
            "FROM inbox WHERE done = 0 ORDER BY id"
        )
        return [
            InboxItem(id_, process, trigger, received, orjson.loads(request), key, parent)
            for id_, process, trigger, received, request, key, parent in rows
        ]

    async def inbox_request(self, execution_id: str) -> dict[str, Any] | None:
        rows = await self._writer.fetch("SELECT request FROM inbox WHERE id = ?", (execution_id,))
        return dict(orjson.loads(rows[0][0])) if rows else None

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        sql = f"SELECT {RECORD_COLUMNS} FROM executions WHERE id = ?"
        rows = await self._writer.fetch(sql, (execution_id,))
        return record_from_row(rows[0]) if rows else None

    async def list_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
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
        rows = await self._writer.fetch(sql, (*params, query.limit))
        return [record_from_row(row) for row in rows]
