"""The scheduler in a running app: fires on time, claims, overlap, missed fires, pause.

Every app here runs on a `FakeClock`: fires are driven by advancing it, or directly with
`Scheduler.fire` and chosen slots; work in flight is held at a `Gate`. Nothing waits for
real time (tests/e2e/test_schedules.py runs real servers on the real clock).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.loading.loader import load_processes
from runtime.schedules.scheduler import QUEUE_POLL, Scheduler
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE
from runtime.store import ExecutionQuery, FireRecord, open_store
from runtime.testing import FakeClock, Gate, settled
from tests.helpers import ADMIN_KEY, Client, ClientFactory, admin_client

FUTURE = "start: 2099-01-01T00:00:00"  # the clock never fires it; tests fire it by hand
NOW = datetime(2030, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)  # where each test's clock starts


def process(name: str, schedule: str, steps: str = "[]", record: str = "summary") -> str:
    fields = "".join(f"    {line}\n" for line in schedule.splitlines())
    return f"name: {name}\nrecord: {record}\ntrigger:\n  schedule:\n{fields}steps: {steps}\n"


@pytest.fixture(autouse=True)
def one_second_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHARF_SCHEDULE_MIN_INTERVAL", "1s")


Start = Callable[..., Awaitable[Client]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def start(tmp_path: Path, aiohttp_client: ClientFactory, clock: FakeClock) -> Start:
    """Start an app on the test's store file and clock; call again to 'restart' on the same
    store. `gates` puts a closed gate first in the processes it names."""

    async def _start(*definitions: str, gates: dict[str, Gate] | None = None) -> Client:
        directory = tmp_path / "processes"
        directory.mkdir(exist_ok=True)
        for old in directory.glob("*.yaml"):
            old.unlink()
        for index, text in enumerate(definitions):
            (directory / f"p{index}.yaml").write_text(text)
        processes = load_processes(directory)
        for process in processes:
            if gates and process.name in gates:
                gates[process.name].install(process)
        settings = Settings(admin_key=ADMIN_KEY, store=f"sqlite:///{tmp_path}/store.db", workers=2)
        app = create_app(processes, settings, clock=clock)
        return await admin_client(aiohttp_client, app)

    return _start


def scheduler_of(client: Client) -> Scheduler:
    return client.app[STATE].scheduler


def slot(minutes: int) -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)


async def tick(clock: FakeClock, seconds: float) -> None:
    """Once the scheduler's timer waits `seconds` for its next slot, advance to it."""
    await clock.sleeping(seconds)
    clock.advance(seconds)


async def fires(client: Client, name: str) -> list[FireRecord]:
    return await client.app[STATE].store.list_fires(name, 500)


async def test_fires_on_the_clock_once_per_slot(start: Start, clock: FakeClock) -> None:
    client = await start(process("tick", "every: 1s", record="full"))
    for seconds in (0.5, 1.0, 1.0):  # to the first whole second, then two more slots
        await tick(clock, seconds)
        await settled(client.app)  # each run ends before the next slot (overlap: skip)
    done = [f for f in await fires(client, "tick") if f.status == "succeeded"]
    assert len(done) == 3
    slots = sorted(f.slot for f in done)
    assert all(s == int(s) for s in slots)  # nominal slots, whole seconds
    assert [b - a for a, b in itertools.pairwise(slots)] == [1.0] * (len(slots) - 1)
    assert slots[0] == NOW.timestamp() + 0.5
    for fire in done:
        assert fire.kind == "schedule"
        assert fire.claimed_at == fire.slot  # claimed when due: no time passed on the clock
        record = await client.app[STATE].store.get_execution(fire.execution_id or "")
        assert record is not None and record.trigger == "schedule"
        assert record.input is not None
        properties = record.input[0]["properties"]
        assert properties["schedule_slot"] == datetime.fromtimestamp(fire.slot, UTC).isoformat()
        assert properties["schedule_kind"] == "schedule"


async def test_a_slot_claimed_elsewhere_does_not_run_here(start: Start) -> None:
    client = await start(process("once", FUTURE + "\nevery: 1m"))
    scheduler = scheduler_of(client)
    entry = scheduler.entries["once"]
    first, second = await asyncio.gather(
        scheduler.fire(entry, slot(0), "schedule"), scheduler.fire(entry, slot(0), "schedule")
    )
    assert sorted([first is None, second is None]) == [False, True]
    executions = await client.app[STATE].store.list_executions(ExecutionQuery(process="once"))
    assert len(executions) == 1


async def test_overlap_skip_records_the_skipped_fire(start: Start) -> None:
    gate = Gate()
    client = await start(process("slow", FUTURE + "\nevery: 1m"), gates={"slow": gate})
    scheduler = scheduler_of(client)
    entry = scheduler.entries["slow"]
    first = asyncio.ensure_future(scheduler.fire(entry, slot(0), "schedule"))
    await gate.reached.wait()  # the first fire is running
    second = await scheduler.fire(entry, slot(1), "schedule")
    assert second is not None and second.status == "skipped"
    gate.open()
    done = await first
    assert done is not None and done.status == "succeeded"
    recorded = {f.slot: f.status for f in await fires(client, "slow")}
    assert recorded == {slot(0).timestamp(): "succeeded", slot(1).timestamp(): "skipped"}
    executions = await client.app[STATE].store.list_executions(ExecutionQuery(process="slow"))
    assert len(executions) == 1  # the skipped fire ran nothing


@pytest.mark.parametrize("overlap", ["queue", "allow"])
async def test_overlap_queue_waits_and_allow_runs_both(
    start: Start, clock: FakeClock, overlap: str
) -> None:
    gate = Gate()
    schedule = f"{FUTURE}\nevery: 1m\noverlap: {overlap}"
    client = await start(process("slow", schedule), gates={"slow": gate})
    scheduler = scheduler_of(client)
    entry = scheduler.entries["slow"]
    first = asyncio.ensure_future(scheduler.fire(entry, slot(0), "schedule"))
    await gate.reached.wait()  # the first fire is running
    following = asyncio.ensure_future(scheduler.fire(entry, slot(1), "schedule"))
    if overlap == "queue":
        await clock.sleeping(QUEUE_POLL)  # the second fire waits for the first to end
        assert gate.reached.count == 1
        gate.open()
        await first
        clock.advance(QUEUE_POLL)
    else:
        await gate.reached.wait(2)  # both run at once
        gate.open()
    await first
    second = await following
    assert second is not None and second.status == "succeeded"
    store = client.app[STATE].store
    records = {r.id: r for r in await store.list_executions(ExecutionQuery(process="slow"))}
    by_slot = {f.slot: records[f.execution_id or ""] for f in await fires(client, "slow")}
    earlier, later = by_slot[slot(0).timestamp()], by_slot[slot(1).timestamp()]
    assert earlier.finished_at is not None and later.started_at is not None
    if overlap == "queue":
        assert later.started_at >= earlier.finished_at
    else:
        assert later.started_at < earlier.finished_at


async def test_a_running_fire_of_a_dead_runtime_stops_blocking_after_its_heartbeat(
    start: Start, clock: FakeClock
) -> None:
    client = await start(process("job", FUTURE + "\nevery: 1m"))
    scheduler = scheduler_of(client)
    store = client.app[STATE].store
    now = clock.now()
    alive = FireRecord("job", slot(0).timestamp(), "schedule", "running", "other:1", now, now)
    await store.record_missed_fires([alive])  # inserts the row as given
    skipped = await scheduler.fire(scheduler.entries["job"], slot(1), "schedule")
    assert skipped is not None and skipped.status == "skipped"
    await store.heartbeat_fires([("job", slot(0).timestamp())], now - 120)  # it went quiet
    ran = await scheduler.fire(scheduler.entries["job"], slot(2), "schedule")
    assert ran is not None and ran.status == "succeeded"


async def _seed_last_fire(tmp_path: Path, name: str, slot_time: datetime) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    stamp = slot_time.timestamp()
    await store.record_missed_fires(
        [FireRecord(name, stamp, "schedule", "succeeded", "old", stamp, stamp, stamp)]
    )
    await store.close()


@pytest.mark.parametrize("catch_up", ["none", "once"])
async def test_fires_missed_while_down_are_recorded_or_caught_up_once(
    start: Start, tmp_path: Path, clock: FakeClock, catch_up: str
) -> None:
    # The last fire was ten minutes ago: the runtime was down for ten one-minute slots.
    clock.advance(29.5)  # half a minute past a slot
    now = NOW.replace(microsecond=0)
    await _seed_last_fire(tmp_path, "nightly", now - timedelta(minutes=10))
    client = await start(process("nightly", f"every: 1m\ncatch_up: {catch_up}"))
    await settled(client.app)  # the catch-up fire, if any
    expected = {(now - timedelta(minutes=k)).timestamp() for k in range(10)}
    recorded = {f.slot: f for f in await fires(client, "nightly") if f.slot in expected}
    assert set(recorded) == expected
    statuses = sorted(f.status for f in recorded.values())
    executions = await client.app[STATE].store.list_executions(ExecutionQuery(process="nightly"))
    if catch_up == "none":
        assert statuses == ["missed"] * 10
        assert executions == []
    else:
        newest = recorded[now.timestamp()]
        assert (newest.kind, newest.status) == ("catch_up", "succeeded")
        assert statuses.count("missed") == 9
        assert [e.id for e in executions] == [newest.execution_id]


async def test_pause_survives_a_restart_and_run_now_still_works(
    start: Start, clock: FakeClock
) -> None:
    definition = process("tick", "every: 1s")
    client = await start(definition)
    paused = await client.post("/api/schedules/tick/pause")
    assert paused.status == 200
    body = await paused.json()
    assert body["paused"] is True and body["next_fire_at"] is None
    await client.close()

    client = await start(definition)  # a new runtime on the same store
    listed = await (await client.get("/api/schedules")).json()
    assert [(s["process"], s["paused"]) for s in listed["items"]] == [("tick", True)]
    before = len(await fires(client, "tick"))
    await tick(clock, 0.5)
    await tick(clock, 1.0)
    await tick(clock, 1.0)  # past the time pause flags are read again
    await settled(client.app)
    assert len(await fires(client, "tick")) == before  # nothing fired while paused

    ran = await client.post("/api/schedules/tick/run?wait=5000")
    assert ran.status == 200
    fire: dict[str, Any] = await ran.json()
    assert (fire["kind"], fire["status"], fire["executions"]) == ("manual", "succeeded", 1)

    resumed = await (await client.post("/api/schedules/tick/resume")).json()
    assert resumed["paused"] is False and resumed["next_fire_at"] is not None
    await tick(clock, 1.0)
    await settled(client.app)
    kinds = [f.kind for f in await fires(client, "tick") if f.status == "succeeded"]
    assert kinds.count("schedule") == 1


async def test_schedule_api_answers_problems_for_unknown_names_and_bad_queries(
    start: Start,
) -> None:
    client = await start(process("job", FUTURE + "\ncron: '0 2 * * *'\ntimezone: Europe/Berlin"))
    for method, path in [
        ("GET", "/api/schedules/nope"),
        ("POST", "/api/schedules/nope/pause"),
        ("POST", "/api/schedules/nope/run"),
    ]:
        response = await client.request(method, path)
        assert response.status == 404
        assert response.content_type == "application/problem+json"
    bad = await client.get("/api/schedules/job?fires=0")
    assert bad.status == 400
    assert bad.content_type == "application/problem+json"
    job = await (await client.get("/api/schedules/job")).json()
    assert (job["cron"], job["timezone"], job["paused"]) == ("0 2 * * *", "Europe/Berlin", False)
    assert job["next_fire_at"].startswith("2099-01-01T01:00:00")  # 02:00 in Berlin, in UTC


async def test_fires_of_dead_runtimes_are_abandoned_at_start(
    start: Start, tmp_path: Path, clock: FakeClock
) -> None:
    gone = await asyncio.create_subprocess_exec("true")  # a process that is surely gone
    await gone.wait()
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    now = clock.now()
    here = socket.gethostname()
    owners = {
        0: f"{here}:{gone.pid}:dead01",  # this host, process gone
        1: "elsewhere:1:alive1",  # another host, heartbeat fresh: may still be running
        2: "elsewhere:2:quiet2",  # another host, silent for two minutes
    }
    beats = {0: now, 1: now, 2: now - 120}
    await store.record_missed_fires(
        [
            FireRecord("job", slot(n).timestamp(), "schedule", "running", owner, now, beats[n])
            for n, owner in owners.items()
        ]
    )
    await store.close()
    client = await start(process("job", FUTURE + "\nevery: 1m"))
    status = {f.claimed_by: f.status for f in await fires(client, "job")}
    assert status == {owners[0]: "abandoned", owners[1]: "running", owners[2]: "abandoned"}


async def test_fires_held_up_past_several_slots_run_the_newest_and_record_the_rest(
    start: Start,
) -> None:
    client = await start(process("job", FUTURE + "\nevery: 1m"))
    scheduler = scheduler_of(client)
    scheduler._on_fire("job", [slot(0), slot(1), slot(2)])  # what the timer hands over
    await settled(client.app)
    recorded = {f.slot: f.status for f in await fires(client, "job")}
    assert recorded == {
        slot(0).timestamp(): "missed",
        slot(1).timestamp(): "missed",
        slot(2).timestamp(): "succeeded",
    }


async def test_jitter_delays_the_claim_by_a_random_time_up_to_the_limit(
    start: Start, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await start(process("job", FUTURE + "\nevery: 1m\njitter: 400ms"))
    scheduler = scheduler_of(client)
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    monkeypatch.setattr("runtime.schedules.scheduler.random.uniform", uniform)
    began = clock.now()
    firing = asyncio.ensure_future(scheduler.fire(scheduler.entries["job"], slot(0), "schedule"))
    await clock.sleeping(0.4)  # the jitter
    assert asked == [(0, 0.4)]
    clock.advance(0.4)
    fire = await firing
    assert fire is not None and fire.status == "succeeded"
    assert fire.claimed_at - began == pytest.approx(0.4)
