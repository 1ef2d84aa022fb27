"""The SQLite store: migrations, group commit, idempotency, queries, retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from runtime.core.errors import ConfigError
from runtime.core.ids import new_execution_id
from runtime.store import ExecutionQuery, ExecutionRecord, InboxItem, open_store
from runtime.store.sqlite import SQLiteStore
from runtime.store.sqlite_sql import MIGRATIONS


def item(key: str | None = None, process: str = "p") -> InboxItem:
    return InboxItem(new_execution_id(), process, "listener", time.time(), {"body": ""}, key)


def record(
    execution_id: str, status: str = "succeeded", created: float | None = None
) -> ExecutionRecord:
    return ExecutionRecord(execution_id, "p", "listener", status, created or time.time())


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore(str(tmp_path / "store.db"))
    await opened.open()
    yield opened  # type: ignore[misc]
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
    unfinished = await store.unfinished()
    assert [u.id for u in unfinished] == sorted(i.id for i in items)
    queued = await store.get_execution(items[0].id)
    assert queued is not None and queued.status == "queued"


async def test_idempotency_keys(store: SQLiteStore) -> None:
    first, same, other = item("k"), item("k"), item("k", process="q")
    a, b, c = await asyncio.gather(store.accept(first), store.accept(same), store.accept(other))
    assert (a.execution_id, a.duplicate) == (first.id, False)
    assert (b.execution_id, b.duplicate) == (first.id, True)
    assert (c.execution_id, c.duplicate) == (other.id, False)  # keys are per process
    later = await store.accept(item("k"))
    assert (later.execution_id, later.duplicate) == (first.id, True)
    assert {u.id for u in await store.unfinished()} == {first.id, other.id}
    # The key names the first execution: a duplicate leaves no record of its own.
    assert await store.get_execution(same.id) is None
    kept = await store.get_execution(first.id)
    assert kept is not None and kept.idempotency_key == "k"


async def test_finishing_marks_inbox_done_and_never_downgrades(store: SQLiteStore) -> None:
    accepted = item()
    await store.accept(accepted)
    await store.save_execution(record(accepted.id), finish_inbox=True)
    assert await store.unfinished() == []
    assert await store.inbox_request(accepted.id) == {"body": ""}
    # A late "running" write (e.g. from a max_wait timeout) cannot undo a finished record.
    await store.save_execution(record(accepted.id, status="running"))
    finished = await store.get_execution(accepted.id)
    assert finished is not None and finished.status == "succeeded"


async def test_queued_writes_are_visible_to_reads(store: SQLiteStore) -> None:
    execution_id = new_execution_id()
    store.save_execution_soon(record(execution_id))
    found = await store.get_execution(execution_id)
    assert found is not None and found.status == "succeeded"


async def test_list_filters_and_pages(store: SQLiteStore) -> None:
    ids = [new_execution_id() for _ in range(6)]
    for n, execution_id in enumerate(ids):
        status = "failed" if n % 2 else "succeeded"
        await store.save_execution(record(execution_id, status, created=1000.0 + n))
    newest_first = sorted(ids, reverse=True)
    page = await store.list_executions(ExecutionQuery(limit=4))
    assert [r.id for r in page] == newest_first[:4]
    rest = await store.list_executions(ExecutionQuery(limit=4, cursor=page[-1].id))
    assert [r.id for r in rest] == newest_first[4:]
    failed = await store.list_executions(ExecutionQuery(status="failed"))
    assert {r.id for r in failed} == {ids[1], ids[3], ids[5]}
    window = await store.list_executions(ExecutionQuery(since=1002.0, until=1004.0))
    assert {r.id for r in window} == {ids[2], ids[3]}


async def test_retention_by_age_and_count(store: SQLiteStore) -> None:
    old = [new_execution_id() for _ in range(3)]
    for execution_id in old:
        await store.save_execution(record(execution_id, created=100.0))
    running = new_execution_id()
    await store.save_execution(record(running, status="running", created=100.0))
    recent = [new_execution_id() for _ in range(4)]
    for execution_id in recent:
        await store.save_execution(record(execution_id))
    assert await store.prune(older_than=1000.0, keep=None) == 3
    assert await store.get_execution(running) is not None  # unfinished work is never pruned
    # The newest 3 records stay; the running one stays whatever its age.
    assert await store.prune(older_than=None, keep=3) == 1
    left = {r.id for r in await store.list_executions(ExecutionQuery())}
    assert left == {running, *sorted(recent)[1:]}


async def test_idempotency_keys_are_scoped_to_callers_and_bound_to_requests(
    store: SQLiteStore,
) -> None:
    def scoped(scope: str, fingerprint: str | None) -> InboxItem:
        made = item("k")
        made.idempotency_scope, made.request_hash = scope, fingerprint
        return made

    alpha, beta = scoped("key:a", "h1"), scoped("key:b", "h2")
    a, b = await asyncio.gather(store.accept(alpha), store.accept(beta))
    assert (a.execution_id, a.duplicate, a.conflict) == (alpha.id, False, False)
    assert (b.execution_id, b.duplicate, b.conflict) == (beta.id, False, False)
    same = await store.accept(scoped("key:a", "h1"))
    assert (same.execution_id, same.duplicate, same.conflict) == (alpha.id, True, False)
    other = scoped("key:a", "h3")
    changed = await store.accept(other)
    assert (changed.execution_id, changed.duplicate, changed.conflict) == (alpha.id, True, True)
    assert await store.get_execution(other.id) is None
    assert {u.id for u in await store.unfinished()} == {alpha.id, beta.id}
    # Caller b's key names b's execution, not a's.
    again = await store.accept(scoped("key:b", "h2"))
    assert (again.execution_id, again.duplicate, again.conflict) == (beta.id, True, False)
    # In one batch too: the first of two different requests wins, the second conflicts.
    first, second = scoped("key:c", "x"), scoped("key:c", "y")
    c1, c2 = await asyncio.gather(store.accept(first), store.accept(second))
    assert (c1.duplicate, c2.execution_id, c2.conflict) == (False, first.id, True)


async def test_an_item_claimed_again_records_the_interrupted_attempt(
    store: SQLiteStore, tmp_path: Path
) -> None:
    accepted = item()
    await store.accept(accepted)
    first = await store.start_attempt(accepted.id)
    assert (first.number, first.earlier) == (1, [])
    running = await store.get_execution(accepted.id)
    assert running is not None and running.status == "running"
    assert running.started_at is not None
    # The runtime dies; after a restart the item is still unfinished and is claimed again.
    await store.close()
    reopened = SQLiteStore(str(tmp_path / "store.db"))
    await reopened.open()
    try:
        assert [u.id for u in await reopened.unfinished()] == [accepted.id]
        second = await reopened.start_attempt(accepted.id)
        assert second.number == 2
        assert [(a["attempt"], a["status"], a["started_at"]) for a in second.earlier] == [
            (1, "interrupted", running.started_at)
        ]
        done = record(accepted.id)
        done.attempt, done.attempts = 2, second.earlier
        await reopened.save_execution(done, finish_inbox=True)
        found = await reopened.get_execution(accepted.id)
        assert found is not None
        shown = found.as_dict()
        assert shown["attempt"] == 2
        assert [(a["attempt"], a["status"]) for a in shown["attempts"]] == [
            (1, "interrupted"),
            (2, "succeeded"),
        ]
    finally:
        await reopened.close()
        await store.open()  # the fixture closes it
