"""`sql.poll` against SQLite and the machine's PostgreSQL and MariaDB, fired through the
real scheduler of a running app (no waiting for the clock). Each case makes its own
tables and drops them; without a server it skips, unless WHARF_REQUIRE_SERVICES=1."""

from __future__ import annotations

import itertools
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from runtime.loading.loader import load_directory, validate_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE, RuntimeState
from runtime.store import ExecutionRecord, FireRecord
from tests.helpers import ADMIN_KEY, Client, ClientFactory, admin_client
from tests.processes.connectors.sql.test_sql import database  # noqa: F401 - the fixture

_slots = itertools.count()
TIMESTAMP = {"sqlite": "TIMESTAMP", "postgresql": "TIMESTAMP", "mysql": "DATETIME(6)"}


@dataclass
class Tables:
    url: str
    engine: AsyncEngine
    src: str
    sink: str

    async def run(self, *statements: str) -> None:
        async with self.engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))

    async def sink_rows(self) -> list[tuple[str, float, str | None]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text(f"SELECT id, total, seen FROM {self.sink} ORDER BY id")
            )
            return [(row.id, float(row.total), row.seen) for row in rows]


@pytest.fixture
async def tables(database: str) -> AsyncIterator[Tables]:  # noqa: F811 - the fixture
    engine = create_async_engine(database)
    suffix = uuid.uuid4().hex[:8]
    found = Tables(database, engine, f"wharf_src_{suffix}", f"wharf_sink_{suffix}")
    stamp = TIMESTAMP[engine.dialect.name]
    await found.run(
        f"CREATE TABLE {found.src} (id VARCHAR(20) PRIMARY KEY, total NUMERIC(10, 2), "
        f"updated_at {stamp} NOT NULL)",
        f"CREATE TABLE {found.sink} (id VARCHAR(20) PRIMARY KEY, total NUMERIC(10, 2), "
        "seen VARCHAR(40))",
    )
    try:
        yield found
    finally:
        await found.run(f"DROP TABLE {found.src}", f"DROP TABLE {found.sink}")
        await engine.dispose()


def write_process(directory: Path, url: str, trigger: str, steps: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "connections.yaml").write_text(
        f"connections:\n  db:\n    connector: sql\n    url: {url}\n"
    )
    body = (
        "name: orders-poll\nrecord: full\ntrigger:\n  sql.poll:\n"
        + textwrap.indent(textwrap.dedent(trigger).strip("\n"), "    ")
        + "\n    cron: '0 0 1 1 *'\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
        + "\n"
    )
    (directory / "orders.yaml").write_text(body)
    return directory


def orders_process(directory: Path, tables: Tables) -> Path:
    """Rows of `src` newer than the watermark go to `sink`; a negative total fails the run."""
    return write_process(
        directory,
        tables.url,
        f"""
        connection: db
        query: >-
          SELECT id, total, updated_at FROM {tables.src}
          WHERE updated_at > :last ORDER BY updated_at LIMIT 500
        watermark: updated_at
        initial: '2000-01-01T00:00:00'
        """,
        f"""
        - route:
            routes:
              - when: doc.total < 0
                steps:
                  - fail: {{status: 422, title: Negative total}}
        - sql.insert:
            connection: db
            table: {tables.sink}
            values: {{id: doc.id, total: doc.total, seen: props.sql_watermark}}
        """,
    )


async def start(aiohttp_client: ClientFactory, directory: Path) -> tuple[Client, RuntimeState]:
    processes, configs, problems = load_directory(directory)
    assert problems == []
    store = f"sqlite:///{directory.parent / 'wharf.db'}"
    client = await admin_client(
        aiohttp_client,
        create_app(processes, Settings(admin_key=ADMIN_KEY, store=store), connections=configs),
    )
    return client, client.app[STATE]


async def fire(state: RuntimeState, name: str = "orders-poll") -> FireRecord:
    slot = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_slots))
    record = await state.scheduler.fire(state.scheduler.entries[name], slot, "schedule")
    assert record is not None
    return record


async def execution(state: RuntimeState, execution_id: str | None) -> ExecutionRecord:
    assert execution_id is not None
    await state.store.flush()  # the fire's run is recorded through the write buffer
    found = await state.store.get_execution(execution_id)
    assert found is not None, f"no record of execution {execution_id}"
    return found


def bodies(record: ExecutionRecord) -> list[Any]:
    assert record.input is not None
    return [snapshot["body"] for snapshot in record.input]


async def test_new_rows_once_then_idle_then_only_the_new_ones(
    tables: Tables, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    await tables.run(
        f"INSERT INTO {tables.src} VALUES ('A-1', 10.50, '2024-05-01 10:00:00')",
        f"INSERT INTO {tables.src} VALUES ('A-2', 99, '2024-05-01 11:30:00')",
    )
    _, state = await start(aiohttp_client, orders_process(tmp_path / "p", tables))

    first = await fire(state)
    assert (first.status, first.executions, first.error) == ("succeeded", 1, None)
    record = await execution(state, first.execution_id)
    assert record.trigger == "poll"
    assert [(b["id"], b["total"]) for b in bodies(record)] == [("A-1", 10.5), ("A-2", 99)]
    assert bodies(record)[1]["updated_at"].replace("T", " ").startswith("2024-05-01 11:30:00")
    assert record.input is not None
    properties = record.input[0]["properties"]
    assert properties["sql_watermark"] == "2000-01-01T00:00:00"
    assert properties["sql_rows"] == 2
    assert properties["schedule_kind"] == "schedule"
    assert await tables.sink_rows() == [
        ("A-1", 10.5, "2000-01-01T00:00:00"),
        ("A-2", 99.0, "2000-01-01T00:00:00"),
    ]
    stored = await state.store.poller_value("orders-poll", "watermark")
    if tables.engine.dialect.name == "sqlite":  # no datetime type: the column's text
        assert stored == {"type": "string", "value": "2024-05-01 11:30:00"}
    else:
        assert stored == {"type": "datetime", "value": "2024-05-01T11:30:00"}

    second = await fire(state)
    assert (second.status, second.executions, second.execution_id) == ("idle", 0, None)

    await tables.run(f"INSERT INTO {tables.src} VALUES ('A-3', 7, '2024-05-02 08:00:00')")
    third = await fire(state)
    assert (third.status, third.executions) == ("succeeded", 1)
    assert [b["id"] for b in bodies(await execution(state, third.execution_id))] == ["A-3"]
    seen = (await tables.sink_rows())[2]
    assert seen[:2] == ("A-3", 7.0)
    assert seen[2] is not None and seen[2].replace("T", " ") == "2024-05-01 11:30:00"


async def test_a_failed_execution_keeps_the_watermark(
    tables: Tables, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    await tables.run(
        f"INSERT INTO {tables.src} VALUES ('B-1', 10, '2024-06-01 09:00:00')",
        f"INSERT INTO {tables.src} VALUES ('B-2', -1, '2024-06-01 09:05:00')",
    )
    _, state = await start(aiohttp_client, orders_process(tmp_path / "p", tables))

    failed = await fire(state)
    assert (failed.status, failed.executions) == ("failed", 1)
    assert failed.error is not None and "Negative total" in failed.error["message"]
    assert (await execution(state, failed.execution_id)).status == "failed"
    assert await state.store.poller_value("orders-poll", "watermark") is None
    assert await tables.sink_rows() == []

    # Fixed at the source without touching updated_at: the same rows come again.
    await tables.run(f"UPDATE {tables.src} SET total = 5 WHERE id = 'B-2'")
    again = await fire(state)
    assert (again.status, again.executions) == ("succeeded", 1)
    assert [b["id"] for b in bodies(await execution(state, again.execution_id))] == ["B-1", "B-2"]
    assert [row[:2] for row in await tables.sink_rows()] == [("B-1", 10.0), ("B-2", 5.0)]
    assert (await fire(state)).status == "idle"


async def test_the_watermark_survives_a_restart(
    tables: Tables, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    directory = orders_process(tmp_path / "p", tables)
    await tables.run(f"INSERT INTO {tables.src} VALUES ('C-1', 1, '2024-07-01 00:00:00')")
    client, state = await start(aiohttp_client, directory)
    assert (await fire(state)).status == "succeeded"
    await client.close()  # shuts the app down: scheduler, connections, store

    await tables.run(f"INSERT INTO {tables.src} VALUES ('C-2', 2, '2024-07-02 00:00:00')")
    _, state = await start(aiohttp_client, directory)
    after = await fire(state)
    assert (after.status, after.executions) == ("succeeded", 1)
    assert [b["id"] for b in bodies(await execution(state, after.execution_id))] == ["C-2"]
    assert [row[0] for row in await tables.sink_rows()] == ["C-1", "C-2"]


async def test_integer_watermark_as_one_batch_document(
    tables: Tables, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    await tables.run(
        f"CREATE TABLE {tables.src}_n (seq INTEGER PRIMARY KEY, label VARCHAR(20))",
        *(f"INSERT INTO {tables.src}_n VALUES ({n}, 'item {n}')" for n in (1, 2, 3)),
    )
    try:
        directory = write_process(
            tmp_path / "p",
            tables.url,
            f"""
            connection: db
            query: SELECT seq, label FROM {tables.src}_n WHERE seq > :last ORDER BY seq LIMIT 2
            watermark: seq
            initial: 0
            output: batch
            """,
            "- map: {fields: {count: doc | length}}",
        )
        _, state = await start(aiohttp_client, directory)
        first = await fire(state)
        assert bodies(await execution(state, first.execution_id)) == [
            [{"seq": 1, "label": "item 1"}, {"seq": 2, "label": "item 2"}]
        ]
        stored = await state.store.poller_value("orders-poll", "watermark")
        assert stored == {"type": "integer", "value": 2}
        second = await fire(state)  # the LIMIT left one row for the next fire
        assert bodies(await execution(state, second.execution_id)) == [
            [{"seq": 3, "label": "item 3"}]
        ]
        assert (await fire(state)).status == "idle"
    finally:
        await tables.run(f"DROP TABLE {tables.src}_n")


async def test_query_problems_fail_the_fire_with_the_reason(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    directory = write_process(
        tmp_path / "p",
        url,
        """
        connection: db
        query: SELECT 1 AS one WHERE 1 > :last
        watermark: updated_at
        initial: 0
        """,
        "- map: {fields: {x: 1}}",
    )
    _, state = await start(aiohttp_client, directory)
    missing_column = await fire(state)
    assert (missing_column.status, missing_column.executions) == ("failed", 0)
    assert missing_column.error is not None
    assert "no column 'updated_at' for the watermark (one)" in missing_column.error["message"]

    (directory / "orders.yaml").write_text(
        (directory / "orders.yaml").read_text().replace("SELECT 1 AS one", "SELECT * FROM nope")
    )
    _, state = await start(aiohttp_client, directory)
    no_table = await fire(state)
    assert no_table.status == "failed" and no_table.error is not None
    assert no_table.error["message"] == "the poll query failed: no such table: nope"


def test_load_time_checks(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "connections.yaml").write_text(
        "connections:\n"
        "  db: {connector: sql, url: 'sqlite+aiosqlite:///x.db'}\n"
        "  api: {connector: http, base_url: 'https://example.com'}\n"
    )
    cases = {
        "unknown": ("nope", "SELECT 1 WHERE 1 > :last", "no connection 'nope'"),
        "wrong-kind": ("api", "SELECT 1 WHERE 1 > :last", "'api' is not a sql connection"),
        "no-last": ("db", "SELECT 1", "needs a `:last` parameter"),
    }
    for name, (connection, query, _) in cases.items():
        (directory / f"{name}.yaml").write_text(
            f"name: {name}\ntrigger:\n  sql.poll:\n    connection: {connection}\n"
            f"    query: '{query}'\n    watermark: id\n    initial: 0\n    every: 1h\n"
            "steps: []\n"
        )
    _, problems = validate_directory(directory)
    messages = {Path(p.file).stem: str(p) for p in problems}
    assert set(messages) == set(cases)
    for name, (_, _, expected) in cases.items():
        assert expected in messages[name], messages[name]
