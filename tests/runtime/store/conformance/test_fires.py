"""Fire ledger contract: one claim per slot across stores, overlap, heartbeats, pause flags."""

from __future__ import annotations

import asyncio
import time

import pytest

from runtime.store import Store
from tests.runtime.store.conformance.conftest import Stores
from tests.runtime.store.conformance.makers import fire

STALE = 60.0  # a running fire whose heartbeat is older than this no longer blocks


def stale_before() -> float:
    return time.time() - STALE


async def test_a_slot_is_claimed_once_across_stores_on_one_location(stores: Stores) -> None:
    one, other = await stores.open(), await stores.open()
    claims = await asyncio.gather(
        *(
            store.claim_fire(fire(100.0, by=f"host:{n}:r"), overlap="allow", stale_before=0.0)
            for n, store in enumerate([one, other, one, other])
        )
    )
    assert sorted(claims) == ["running", "taken", "taken", "taken"]
    again = await one.claim_fire(fire(100.0), overlap="allow", stale_before=0.0)
    assert again == "taken"
    (recorded,) = await other.list_fires("job")
    assert (recorded.slot, recorded.status, recorded.kind) == (100.0, "running", "schedule")
    assert recorded.claimed_by == f"host:{claims.index('running')}:r"


@pytest.mark.parametrize(
    ("overlap", "status"), [("skip", "skipped"), ("queue", "queued"), ("allow", "running")]
)
async def test_overlap_with_a_running_fire(store: Store, overlap: str, status: str) -> None:
    await store.claim_fire(fire(100.0), overlap=overlap, stale_before=stale_before())
    claimed = fire(160.0)
    assert await store.claim_fire(claimed, overlap=overlap, stale_before=stale_before()) == status
    newest, _ = await store.list_fires("job")
    assert (newest.slot, newest.status) == (160.0, status)
    # A skipped fire is over at once; the others are not.
    expected = claimed.claimed_at if status == "skipped" else None
    assert newest.finished_at == expected
    other = await store.claim_fire(fire(160.0, "other"), overlap=overlap, stale_before=0.0)
    assert other == "running"  # overlap is per process


async def test_a_fire_gone_quiet_stops_blocking_and_a_heartbeat_keeps_it_alive(
    store: Store,
) -> None:
    quiet = time.time() - 2 * STALE
    await store.claim_fire(fire(100.0, heartbeat=quiet), overlap="skip", stale_before=0.0)
    second = await store.claim_fire(fire(160.0), overlap="skip", stale_before=stale_before())
    assert second == "running"  # the first one's runtime went quiet
    await store.heartbeat_fires([("job", 160.0)], quiet)
    third = await store.claim_fire(fire(220.0), overlap="skip", stale_before=stale_before())
    assert third == "running"
    await store.heartbeat_fires([("job", 220.0)], quiet)
    await store.heartbeat_fires([("job", 100.0)], time.time())  # alive after all
    fourth = await store.claim_fire(fire(280.0), overlap="skip", stale_before=stale_before())
    assert fourth == "skipped"


async def test_a_queued_fire_starts_once_no_other_runs(store: Store) -> None:
    running = fire(100.0)
    await store.claim_fire(running, overlap="queue", stale_before=stale_before())
    assert await store.claim_fire(fire(160.0), overlap="queue", stale_before=stale_before()) == (
        "queued"
    )
    assert await store.start_queued_fire("job", 160.0, stale_before()) is False
    running.status, running.finished_at = "succeeded", time.time()
    await store.finish_fire(running)
    assert await store.start_queued_fire("job", 160.0, stale_before()) is True
    statuses = {f.slot: f.status for f in await store.list_fires("job")}
    assert statuses == {100.0: "succeeded", 160.0: "running"}


async def test_a_finished_fire_keeps_its_outcome(store: Store) -> None:
    claimed = fire(100.0)
    await store.claim_fire(claimed, overlap="allow", stale_before=0.0)
    claimed.status, claimed.finished_at, claimed.heartbeat_at = "failed", 105.0, 105.0
    claimed.execution_id, claimed.executions = "0190-x", 2
    claimed.error = {"type": "StepError", "message": "no", "step": "map"}
    await store.finish_fire(claimed)
    (found,) = await store.list_fires("job")
    assert found == claimed


async def test_missed_fires_are_recorded_and_claimed_slots_left_alone(store: Store) -> None:
    await store.claim_fire(fire(100.0), overlap="allow", stale_before=0.0)
    missed = [fire(slot, status="missed") for slot in (100.0, 160.0, 220.0)]
    await store.record_missed_fires(missed)
    statuses = {f.slot: f.status for f in await store.list_fires("job")}
    assert statuses == {100.0: "running", 160.0: "missed", 220.0: "missed"}
    assert await store.claim_fire(fire(160.0), overlap="allow", stale_before=0.0) == "taken"


async def test_fires_are_listed_newest_first_and_unfinished_ones_found(store: Store) -> None:
    assert await store.last_fire_slot("job") is None
    assert await store.list_fires("job") == []
    await store.record_missed_fires(
        [fire(float(slot), status="succeeded") for slot in range(100, 130)]
        + [fire(500.0, "other", status="queued"), fire(50.0, status="running")]
    )
    assert await store.last_fire_slot("job") == 129.0
    assert [f.slot for f in await store.list_fires("job")] == [
        float(s) for s in range(129, 109, -1)
    ]
    assert [f.slot for f in await store.list_fires("job", 3)] == [129.0, 128.0, 127.0]
    unfinished = {(f.process, f.slot, f.status) for f in await store.unfinished_fires()}
    assert unfinished == {("other", 500.0, "queued"), ("job", 50.0, "running")}


async def test_pause_flags_are_kept_and_shared(stores: Stores) -> None:
    store = await stores.open()
    assert await store.paused_processes() == set()
    await store.set_paused("a", True)
    await store.set_paused("b", True)
    await store.set_paused("b", False)
    await store.set_paused("a", True)  # pausing twice is harmless
    assert await store.paused_processes() == {"a"}
    restarted = await stores.restart(store)
    other = await stores.open()
    assert await restarted.paused_processes() == {"a"}
    assert await other.paused_processes() == {"a"}
