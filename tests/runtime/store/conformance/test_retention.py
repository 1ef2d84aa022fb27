"""Retention contract: finished records go by age and count; each concern's old state too."""

from __future__ import annotations

import time

from runtime.core.ids import new_execution_id
from runtime.store import ExecutionQuery, Store
from tests.runtime.store.conformance.makers import fire, item, record


async def test_retention_by_age_and_count(store: Store) -> None:
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


async def test_pruned_executions_take_their_finished_requests_along(store: Store) -> None:
    done, waiting = item(), item()
    await store.accept(done)
    await store.accept(waiting)
    await store.save_execution(record(done.id), finish_inbox=True)
    assert await store.prune(older_than=time.time() + 1, keep=None) == 1
    assert await store.inbox_request(done.id) is None
    assert await store.inbox_request(waiting.id) == {"body": ""}
    assert [u.id for u in await store.unfinished()] == [waiting.id]


async def test_pruning_keeps_each_schedules_newest_fire(store: Store) -> None:
    await store.record_missed_fires(
        [
            fire(100.0, status="succeeded", finished=100.0),
            fire(200.0, status="missed", finished=200.0),
            fire(150.0, "other", status="succeeded", finished=150.0),
            fire(50.0, "third", status="running"),
            fire(60.0, "third", status="succeeded", finished=60.0),
        ]
    )
    await store.prune(older_than=1000.0, keep=None)
    assert [f.slot for f in await store.list_fires("job")] == [200.0]
    assert [f.slot for f in await store.list_fires("other")] == [150.0]
    # An unfinished fire stays whatever its age; so does the newest one.
    assert [f.slot for f in await store.list_fires("third")] == [60.0, 50.0]


async def test_pruning_drops_quota_counters_of_long_past_periods(store: Store) -> None:
    today = time.strftime("day:%Y-%m-%d", time.gmtime())
    this_month = time.strftime("month:%Y-%m", time.gmtime())
    for period in ("day:2020-01-01", today, "month:2020-01", this_month):
        assert await store.consume_quota("l|c", period, 1, 5) == 1
    await store.prune(older_than=None, keep=None)
    assert await store.consume_quota("l|c", "day:2020-01-01", 1, 5) == 1  # counted afresh
    assert await store.consume_quota("l|c", today, 1, 5) == 2  # kept
    assert await store.consume_quota("l|c", "month:2020-01", 1, 5) == 1
    assert await store.consume_quota("l|c", this_month, 1, 5) == 2


async def test_pruning_forgets_moved_files_but_remembers_kept_ones(store: Store) -> None:
    statuses = ["done", "error", "changed", "done-kept", "error-kept", "running"]
    for status in statuses:
        assert await store.claim_item("p", f"f-{status}", "me", 0.0)
        if status != "running":
            await store.finish_item("p", f"f-{status}", status, None)
    await store.prune(older_than=time.time() + 1, keep=None)
    left = await store.known_items("p", [f"f-{status}" for status in statuses])
    assert left == {"f-done-kept", "f-error-kept"}  # (running items are never "known")
    assert not await store.claim_item("p", "f-running", "other", 0.0)  # still claimed
