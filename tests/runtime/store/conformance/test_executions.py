"""Execution log contract: records saved, read back whole, listed newest first, paged."""

from __future__ import annotations

import asyncio

from runtime.core.ids import new_execution_id
from runtime.store import ExecutionQuery, ExecutionRecord, Store
from tests.runtime.store.conformance.makers import item, record


async def test_an_open_store_answers(store: Store) -> None:
    assert await store.ping() is True


async def test_a_record_reads_back_whole(store: Store) -> None:
    saved = ExecutionRecord(
        id=new_execution_id(),
        process="p",
        trigger="schedule",
        status="failed",
        created_at=1000.5,
        started_at=1000.75,
        finished_at=1001.25,
        duration_ms=500.0,
        documents_in=2,
        documents_out=3,
        error={"type": "StepError", "message": "no", "step": "map"},
        trace=[{"step": "map", "ms": 1.5, "big": 2**70}],  # integers beyond 64 bits stay exact
        input=[{"body": "e30=", "media_type": "application/json"}],
        output=[{"body": "", "properties": {"n": -(2**65)}}],
        parent_id="0190-parent",
        idempotency_key="k",
        attempt=3,
        attempts=[{"attempt": 2, "status": "interrupted"}],
        token_root="0190-root",
    )
    await store.save_execution(saved)
    assert await store.get_execution(saved.id) == saved
    (listed,) = await store.list_executions(ExecutionQuery())
    assert listed == saved


async def test_a_record_is_updated_in_place(store: Store) -> None:
    execution_id = new_execution_id()
    await store.save_execution(record(execution_id, status="running"))
    finished = record(execution_id, status="failed")
    finished.error, finished.documents_in = {"type": "X", "message": "m", "step": None}, 1
    await store.save_execution(finished)
    (found,) = await store.list_executions(ExecutionQuery())
    assert (found.id, found.status, found.error, found.documents_in) == (
        execution_id,
        "failed",
        finished.error,
        1,
    )


async def test_finishing_marks_inbox_done_and_never_downgrades(store: Store) -> None:
    accepted = item()
    await store.accept(accepted)
    await store.save_execution(record(accepted.id), finish_inbox=True)
    assert await store.unfinished() == []
    assert await store.inbox_request(accepted.id) == {"body": ""}
    # A late "running" write (e.g. from a max_wait timeout) cannot undo a finished record.
    await store.save_execution(record(accepted.id, status="running"))
    finished = await store.get_execution(accepted.id)
    assert finished is not None and finished.status == "succeeded"


async def test_queued_writes_are_visible_to_reads(store: Store) -> None:
    execution_id = new_execution_id()
    store.save_execution_soon(record(execution_id))
    found = await store.get_execution(execution_id)
    assert found is not None and found.status == "succeeded"


async def test_flush_commits_every_queued_write(store: Store) -> None:
    ids = [new_execution_id() for _ in range(50)]
    for execution_id in ids:
        store.save_execution_soon(record(execution_id))
    await store.flush()
    assert store.pending_writes == 0
    listed = await store.list_executions(ExecutionQuery(limit=100))
    assert {r.id for r in listed} == set(ids)


async def test_list_filters_and_pages(store: Store) -> None:
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


async def test_filters_combine(store: Store) -> None:
    made = {
        (process, status): new_execution_id()
        for process in ("orders", "invoices")
        for status in ("succeeded", "failed")
    }
    await asyncio.gather(
        *(
            store.save_execution(record(execution_id, status, process=process))
            for (process, status), execution_id in made.items()
        )
    )
    orders = await store.list_executions(ExecutionQuery(process="orders"))
    assert {r.id for r in orders} == {made["orders", "succeeded"], made["orders", "failed"]}
    both = await store.list_executions(ExecutionQuery(process="invoices", status="failed"))
    assert [r.id for r in both] == [made["invoices", "failed"]]
    assert await store.list_executions(ExecutionQuery(process="nope")) == []
