"""The sql connector and its steps against real databases: SQLite files, the machine's
PostgreSQL and MariaDB. Without a server the case skips with a reason, unless
WHARF_REQUIRE_SERVICES=1 (as in CI), which makes it fail."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from processes.connectors.sql import SqlConnection
from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.core.errors import ConfigError
from runtime.loading.connections import load_connections
from runtime.loading.loader import ProcessLoadError, load_directory, load_processes

SERVERS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+asyncmy://root@127.0.0.1:3306/test",
}


async def reachable(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(5), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
        return
    url = SERVERS[request.param]
    problem = await reachable(url)
    if problem is not None:
        if os.environ.get("WHARF_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{request.param} is required but unreachable: {problem}")
        pytest.skip(f"{request.param} not reachable at {url}: {problem}")
    yield url


def build(directory: Path, url: str, table: str, steps: str) -> tuple[Any, Connections]:
    (directory / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              db:
                connector: sql
                url: {url}
                init:
                  - CREATE TABLE IF NOT EXISTS {table} (
                      id VARCHAR(40) PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INTEGER)
            """
        )
    )
    (directory / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
    )
    processes, configs, problems = load_directory(directory)
    assert problems == []
    return processes[0], Connections(configs)


async def test_insert_upsert_query_execute(database: str, tmp_path: Path) -> None:
    table = f"wharf_items_{uuid.uuid4().hex[:8]}"
    process, connections = build(
        tmp_path,
        database,
        table,
        f"""
        - sql.upsert:
            connection: db
            table: {table}
            key: [id]
            values: {{id: doc.id, name: doc.name, qty: doc.qty}}
        - sql.execute:
            connection: db
            statement: UPDATE {table} SET qty = qty + :add WHERE id = :id
            parameters: {{add: 1, id: doc.id}}
        - sql.query:
            connection: db
            statement: SELECT id, name, qty FROM {table} WHERE id = :id
            parameters: {{id: doc.id}}
            output: first
        """,
    )
    try:
        first = [
            Document.json({"id": "a", "name": "Bolt", "qty": 1}),
            Document.json({"id": "b", "name": "Nut", "qty": 5}),
        ]
        result = await process.execute(first, connections=connections)
        assert result.execution.error is None, result.execution.error
        assert [d.body for d in result.documents] == [
            {"id": "a", "name": "Bolt", "qty": 2},
            {"id": "b", "name": "Nut", "qty": 6},
        ]
        # A second delivery updates instead of duplicating; a name with quotes is just data.
        again = [Document.json({"id": "a", "name": "Bolt'); DROP TABLE x; --", "qty": 10})]
        result = await process.execute(again, connections=connections)
        assert result.execution.error is None, result.execution.error
        assert result.documents[0].body == {
            "id": "a",
            "name": "Bolt'); DROP TABLE x; --",
            "qty": 11,
        }
        client = await connections.client("db")
        async with client.engine.connect() as connection:  # type: ignore[attr-defined]
            count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
        assert count == 2
    finally:
        client = await connections.client("db")
        async with client.engine.begin() as connection:  # type: ignore[attr-defined]
            await connection.execute(text(f"DROP TABLE {table}"))
        await connections.close()


async def test_constraint_violation_names_the_table(database: str, tmp_path: Path) -> None:
    table = f"wharf_items_{uuid.uuid4().hex[:8]}"
    process, connections = build(
        tmp_path,
        database,
        table,
        f"""
        - sql.insert:
            connection: db
            table: {table}
            values: {{id: doc.id, name: doc.name}}
        """,
    )
    try:
        ok = await process.execute(
            [Document.json({"id": "a", "name": "x"})], connections=connections
        )
        assert ok.execution.error is None
        # A new row and a duplicate key in one batch: the batch fails whole.
        batch = [Document.json({"id": "b", "name": "y"}), Document.json({"id": "a", "name": "z"})]
        failed = await process.execute(batch, connections=connections)
        error = failed.execution.error
        assert error is not None
        assert error.status == 409
        assert f"constraint violated on table {table}" in error.detail
        client = await connections.client("db")
        async with client.engine.connect() as connection:  # type: ignore[attr-defined]
            ids = (
                (await connection.execute(text(f"SELECT id FROM {table} ORDER BY id")))
                .scalars()
                .all()
            )
        assert ids == ["a"]  # "b" was rolled back with the rest of its batch
    finally:
        client = await connections.client("db")
        async with client.engine.begin() as connection:  # type: ignore[attr-defined]
            await connection.execute(text(f"DROP TABLE {table}"))
        await connections.close()


def test_literal_passwords_and_unknown_connections_are_refused(tmp_path: Path) -> None:
    (tmp_path / "connections.yaml").write_text(
        "connections:\n"
        "  leaky:\n    connector: sql\n    url: postgresql+asyncpg://app:hunter2@db/x\n"
        "  fine:\n    connector: sql\n    url: postgresql+asyncpg://app:${env:DB_PASSWORD}@db/x\n"
        "  odd:\n    connector: sql\n    url: oracle://x@y/z\n"
    )
    _, problems = load_connections(tmp_path)
    messages = [str(p) for p in problems]
    assert len(messages) == 2
    assert "connections.leaky.url: " in messages[0] and "literal password" in messages[0]
    assert "hunter2" not in " ".join(messages)
    assert "connections.odd.url" in messages[1] and "driver 'oracle'" in messages[1]
    (tmp_path / "connections.yaml").write_text(
        "connections:\n  fine:\n    connector: sql\n    url: sqlite+aiosqlite:///x.db\n"
    )
    (tmp_path / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        "  - sql.query: {connection: nope, statement: SELECT 1}\n"
    )
    with pytest.raises(ProcessLoadError) as caught:
        load_processes(tmp_path)
    assert (
        "p.yaml:4 steps[0].sql.query.connection: no connection 'nope' in connections.yaml (fine)"
        in str(caught.value.problems[0])
    )


@pytest.mark.parametrize(
    ("url", "module", "install"),
    [
        ("postgresql+asyncpg://app@db.invalid/x", "asyncpg", "'wharf[postgresql]'"),
        ("mysql+asyncmy://app@db.invalid/x", "asyncmy", "'wharf[mysql]'"),
        ("mysql+aiomysql://app@db.invalid/x", "aiomysql", "aiomysql"),
    ],
)
async def test_a_driver_not_installed_is_named_with_what_installs_it(
    url: str, module: str, install: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    config = SqlConnection(connector="sql", url=url)
    expected = f"the {url.split(':')[0]} driver is not installed (pip install {install})"
    for opening in (config.open, config.open_for_check):
        with pytest.raises(ConfigError) as caught:
            await opening()
        assert caught.value.detail == expected
