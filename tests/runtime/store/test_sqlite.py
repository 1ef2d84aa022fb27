"""The SQLite store's own traits: URLs, the file, WAL, migrations, group commit.

What every backend must do is in `conformance/` (which runs on SQLite too).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.core.errors import ConfigError
from runtime.core.ids import new_execution_id
from runtime.store import InboxItem, open_store
from runtime.store.sqlite import SQLiteStore
from runtime.store.sqlite_sql import MIGRATIONS


def item() -> InboxItem:
    return InboxItem(new_execution_id(), "p", "listener", time.time(), {"body": ""})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(str(tmp_path / "store.db"))
    await opened.open()
    yield opened
    await opened.close()


def test_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store("sqlite:///relative/x.db"), SQLiteStore)
    assert open_store("sqlite:///relative/x.db").path == "relative/x.db"  # type: ignore[attr-defined]
    assert open_store(f"sqlite:///{tmp_path}/x.db").path == f"{tmp_path}/x.db"  # type: ignore[attr-defined]
    assert open_store("sqlite://").path == ":memory:"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unsupported store"):
        open_store("mongodb://x")
    with pytest.raises(ConfigError):
        open_store("just-a-path.db")


async def test_schema_is_versioned_and_settings_applied(store: SQLiteStore, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "store.db") as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version")]
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert journal == "wal"
    async with store.conn.execute("PRAGMA synchronous") as cursor:
        assert (await cursor.fetchone())[0] == 2  # FULL
    # Opening again applies nothing twice.
    again = SQLiteStore(str(tmp_path / "store.db"))
    await again.open()
    await again.close()
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


async def test_concurrent_writes_share_commits(store: SQLiteStore) -> None:
    items = [item() for _ in range(500)]
    before = store.commits
    results = await asyncio.gather(*(store.accept(i) for i in items))
    commits = store.commits - before
    assert [r.execution_id for r in results] == [i.id for i in items]
    assert not any(r.duplicate for r in results)
    assert 1 <= commits <= 50, f"{commits} commits for 500 writes: group commit is not working"


async def test_an_in_memory_store_works_until_closed() -> None:
    store = open_store("sqlite://")
    await store.open()
    accepted = item()
    await store.accept(accepted)
    assert [u.id for u in await store.unfinished()] == [accepted.id]
    await store.close()
    assert await store.ping() is False
    with pytest.raises(RuntimeError, match="closing"):
        await store.accept(item())
