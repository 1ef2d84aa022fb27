"""runtime.testing: run_steps, fake connections, the fake clock, and the signals tests await."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.core.engine import ExecutionStatus
from runtime.loading.connections import load_connections
from runtime.loading.loader import load_processes
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE
from runtime.testing import (
    Document,
    FakeClock,
    FakeConnections,
    FakeRequest,
    FakeResponse,
    FakeServer,
    Gate,
    StepsInvalid,
    run_steps,
    settled,
    started,
    steps_process,
)
from runtime.traffic.config import RateLimit
from runtime.traffic.limits import RateLimiter
from tests.helpers import ADMIN_KEY, ClientFactory, admin_client, write_files

# --- run_steps -----------------------------------------------------------------------------


async def test_run_steps_runs_yaml_steps_through_the_engine() -> None:
    result = await run_steps(
        """
        - map: {fields: {total: doc.price * doc.qty}}
        - set: {properties: {checked: "'yes'"}}
        """,
        [Document.json({"price": 2.5, "qty": 4}), Document.json({"price": 1, "qty": 1})],
    )
    assert result.execution.status is ExecutionStatus.SUCCEEDED
    assert [d.body for d in result.documents] == [{"total": 10.0}, {"total": 1}]
    assert result.documents[0].properties["checked"] == "yes"
    assert [t.step for t in result.execution.trace] == ["steps[0].map", "steps[1].set"]


async def test_run_steps_takes_a_list_and_one_document() -> None:
    result = await run_steps([{"map": {"fields": {"n": "doc.n + 1"}}}], Document.json({"n": 1}))
    assert [d.body for d in result.documents] == [{"n": 2}]


async def test_a_failing_step_is_recorded_on_the_execution_not_raised() -> None:
    result = await run_steps("- fail: {title: Refused}", Document.json({}))
    assert result.execution.status is ExecutionStatus.FAILED
    assert result.execution.error is not None
    assert result.execution.error.step_path == "steps[0].fail"
    assert result.documents == []


def test_invalid_steps_are_refused_with_their_lines() -> None:
    with pytest.raises(StepsInvalid) as refused:
        steps_process(
            """
            - map: {fields: {a: doc.a}}
            - map: {feilds: {a: doc.a}}
            """
        )
    assert [str(p) for p in refused.value.problems] == [
        "<steps>:2 steps[1].map.fields: Field required",
        "<steps>:2 steps[1].map.feilds: unknown field `feilds`; did you mean `fields`?",
    ]
    assert "<steps>:2 steps[1].map.feilds" in str(refused.value)


def test_a_step_naming_an_unknown_connection_is_refused() -> None:
    with pytest.raises(StepsInvalid, match="no connection 'crm'"):
        steps_process("- http.request: {connection: crm, path: \"'/x'\"}")


# --- fake connections ----------------------------------------------------------------------


async def test_a_fake_http_connection_answers_the_steps_request() -> None:
    def crm(request: FakeRequest) -> Any:
        assert (request.method, request.path) == ("POST", "/accounts/7")
        assert request.headers["content-type"].startswith("application/json")
        return {"id": 7, "got": request.json()}

    fake = FakeConnections({"crm": crm})
    result = await run_steps(
        "- http.request: {connection: crm, path: '/accounts/{{ doc.id }}'}",
        Document.json({"id": 7, "name": "Ada"}),
        connections=fake,
    )
    assert result.execution.status is ExecutionStatus.SUCCEEDED, result.execution.error
    (document,) = result.documents
    assert document.body == {"id": 7, "got": {"id": 7, "name": "Ada"}}
    assert document.properties["http_status"] == 200
    assert [r.path for r in fake.requests["crm"]] == ["/accounts/7"]


async def test_a_fake_keeps_the_real_connections_headers_and_base_path(tmp_path: Path) -> None:
    (tmp_path / "connections.yaml").write_text(
        "connections:\n  crm:\n    connector: http\n"
        "    base_url: https://crm.example/api/v2\n    headers: {X-Tenant: acme}\n"
    )
    real, problems = load_connections(tmp_path)
    assert problems == []
    seen: list[FakeRequest] = []

    async def crm(request: FakeRequest) -> FakeResponse:
        seen.append(request)
        return FakeResponse(status=201, json={"ok": True}, headers={"X-Id": "9"})

    result = await run_steps(
        "- http.request: {connection: crm, method: PUT, path: \"'/orders'\"}",
        Document.json({}),
        connections=FakeConnections({"crm": crm}, like=real),
    )
    assert result.execution.status is ExecutionStatus.SUCCEEDED, result.execution.error
    ((request,),) = [seen]
    assert (request.method, request.path, request.headers["X-Tenant"]) == (
        "PUT",
        "/api/v2/orders",
        "acme",
    )
    (document,) = result.documents
    assert document.properties["http_status"] == 201
    assert document.properties["http_header_x-id"] == "9"


async def test_a_handler_that_fails_fails_the_test() -> None:
    def crm(request: FakeRequest) -> Any:
        raise AssertionError("unexpected call")

    with pytest.raises(AssertionError, match="unexpected call"):
        await run_steps(
            "- http.request: {connection: crm, path: \"'/x'\"}",
            Document.json({}),
            connections=FakeConnections({"crm": crm}),
        )


async def test_a_fake_server_answers_any_client() -> None:
    async with (
        FakeServer(lambda request: "pong " + request.query["n"]) as server,
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/ping?n=3") as response,
    ):
        assert (response.status, await response.text()) == (200, "pong 3")
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/ping")]


# --- the fake clock ------------------------------------------------------------------------


async def test_the_fake_clock_wakes_sleepers_when_advanced() -> None:
    clock = FakeClock(datetime(2030, 5, 1, tzinfo=UTC))
    woke: list[float] = []

    async def nap(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    naps = [asyncio.create_task(nap(s)) for s in (5, 10, 30)]
    await clock.sleeping(count=3)
    assert clock.sleepers == [5, 10, 30]
    clock.advance(10)
    await asyncio.gather(*naps[:2])
    assert woke == [5, 10]
    assert clock.utcnow() == datetime(2030, 5, 1, 0, 0, 10, tzinfo=UTC)
    assert clock.sleepers == [20]
    naps[2].cancel()
    with pytest.raises(asyncio.CancelledError):
        await naps[2]
    assert clock.sleepers == []  # a cancelled sleep is forgotten
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


async def test_the_fake_clock_refills_a_rate_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(requests=3, per="minute"), clock=clock)
    assert [limiter.check("a").allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.check("a").retry_after == 20
    clock.advance(19.9)
    assert not limiter.check("a").allowed
    clock.advance(0.1)
    assert limiter.check("a").allowed  # one token back after 20 s
    assert not limiter.check("a").allowed


SCHEDULED = """
name: tick
record: full
trigger:
  schedule: {every: 1m}
steps:
  - map: {fields: {slot: props.schedule_slot}}
"""


async def test_the_fake_clock_drives_schedule_fires(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC))
    (process,) = load_processes(write_files(tmp_path / "p", {"tick.yaml": SCHEDULED}))
    ran = started(process)
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    client = await admin_client(aiohttp_client, create_app([process], settings, clock=clock))
    store = client.app[STATE].store

    await clock.sleeping(30)  # the timer waits for 00:01:00
    clock.advance(30)
    await ran.wait(1)
    await settled(client.app)
    (fire,) = await store.list_fires("tick", 10)
    minute = datetime(2030, 1, 1, 0, 1, tzinfo=UTC).timestamp()
    assert (fire.slot, fire.kind, fire.status) == (minute, "schedule", "succeeded")
    assert fire.claimed_at == fire.finished_at == minute  # no time passed on the clock
    schedule = await (await client.get("/api/schedules/tick")).json()
    assert schedule["next_fire_at"].startswith("2030-01-01T00:02:00")

    # Held up for three slots at once: the newest runs, the older ones are recorded missed.
    await clock.sleeping(60)
    clock.advance(180)
    await ran.wait(2)
    await settled(client.app)
    statuses = {f.slot - minute: f.status for f in await store.list_fires("tick", 10)}
    assert statuses == {0: "succeeded", 60: "missed", 120: "missed", 180: "succeeded"}
    assert ran.count == 2


# --- signals -------------------------------------------------------------------------------


async def test_a_gate_holds_executions_until_opened() -> None:
    process = steps_process("- map: {fields: {n: doc.n}}")
    gate = Gate().install(process)
    runs = [asyncio.create_task(run_steps(process, Document.json({"n": n}))) for n in (1, 2)]
    await gate.reached.wait(2)
    assert not any(run.done() for run in runs)
    gate.open()
    results = await asyncio.gather(*runs)
    assert [r.documents[0].body for r in results] == [{"n": 1}, {"n": 2}]
    assert results[0].execution.trace[0].step == "testing.gate"


async def test_settled_waits_for_accepted_executions(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    text = "name: later\ntrigger: {http: {auth: none, path: /later, mode: async}}\nsteps: []\n"
    (process,) = load_processes(write_files(tmp_path / "p", {"later.yaml": text}))
    gate = Gate().install(process)
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://")
    client = await admin_client(aiohttp_client, create_app([process], settings))
    accepted = await (await client.post("/later", json={})).json()
    await gate.reached.wait()
    store = client.app[STATE].store
    held = await store.get_execution(accepted["execution_id"])
    assert held is not None and held.status in ("queued", "running")
    gate.open()
    await settled(client.app)
    record = await store.get_execution(accepted["execution_id"])
    assert record is not None and record.status == "succeeded"


def test_the_fake_clock_starts_where_told() -> None:
    start = datetime(2031, 2, 3, tzinfo=UTC)
    assert FakeClock(start).now() == start.timestamp()
    assert FakeClock(start.timestamp() + 1).utcnow() == start + timedelta(seconds=1)


README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


async def test_the_readme_example_runs() -> None:
    """The README's "Testing your processes" example works as printed."""
    section = README.split("## Testing your processes", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        await test()
