"""Traffic control on real listeners: rate limits, stored quotas, concurrency caps, CORS,
and the analytics that count them (/metrics through prometheus_client's parser, and
/api/usage). The apps run on a FakeClock: buckets refill when a test advances it."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from runtime.loading.loader import load_directory
from runtime.security.api_keys import new_key
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.store import open_store
from runtime.testing import FakeClock, Gate
from tests.helpers import ADMIN, ADMIN_KEY, Client, ClientFactory, echo_soap_process

PROCESSES = {
    "limited": "rate_limit: {requests: 3, per: minute}",
    "quota": "quota: {requests: 2, per: day}",
    "single": "max_concurrent: 1",
    "browser": "cors: {origins: ['https://app.example']}",
}


def write(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    for name, traffic in PROCESSES.items():
        (directory / f"{name}.yaml").write_text(
            f"name: {name}\ntrigger:\n  http:\n    path: /{name}\n    auth: {{api_key: {{}}}}\n"
            f"    {traffic}\nsteps: []\n"
        )


async def start(
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    clock: FakeClock | None = None,
    gates: dict[str, Gate] | None = None,
) -> Client:
    """The app of `tmp_path/p` on a fake clock; `gates` holds executions of the processes
    they name until opened."""
    processes, connections, problems = load_directory(tmp_path / "p")
    assert problems == []
    for process in processes:
        if gates and process.name in gates:
            gates[process.name].install(process)
    settings = Settings(admin_key=ADMIN_KEY, store=f"sqlite:///{tmp_path}/store.db")
    app = create_app(processes, settings, connections=connections, clock=clock or FakeClock())
    return await aiohttp_client(app)


async def keys(tmp_path: Path, *names: str) -> dict[str, dict[str, str]]:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    made = {}
    for name in names:
        key = new_key(name)
        await store.add_api_key(key.record)
        made[name] = {"X-API-Key": key.key}
    await store.close()
    return made


async def test_a_burst_over_the_rate_limit_gets_429_with_retry_after(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    write(tmp_path / "p")
    callers = await keys(tmp_path, "a", "b")
    clock = FakeClock()
    client = await start(tmp_path, aiohttp_client, clock)
    answers = [await client.post("/limited", json={}, headers=callers["a"]) for _ in range(5)]
    assert [r.status for r in answers] == [200, 200, 200, 429, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert refused.content_type == "application/problem+json"
    # 3 per minute: the next token comes in 20 s.
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["RateLimit-Limit"] == "3"
    # Per caller: another key has its own bucket.
    assert (await client.post("/limited", json={}, headers=callers["b"])).status == 200
    # 20 s later, one token is back.
    clock.advance(20)
    again = [await client.post("/limited", json={}, headers=callers["a"]) for _ in range(2)]
    assert [r.status for r in again] == [200, 429]


async def test_a_quota_survives_a_restart(tmp_path: Path, aiohttp_client: ClientFactory) -> None:
    write(tmp_path / "p")
    caller = (await keys(tmp_path, "a"))["a"]
    client = await start(tmp_path, aiohttp_client)
    assert (await client.post("/quota", json={}, headers=caller)).status == 200
    assert (await client.post("/quota", json={}, headers=caller)).status == 200
    over = await client.post("/quota", json={}, headers=caller)
    assert over.status == 429
    assert (await over.json())["type"] == "urn:wharf:problem:quota-exceeded"
    assert 0 < int(over.headers["Retry-After"]) <= 86400  # until the UTC day ends
    await client.close()

    client = await start(tmp_path, aiohttp_client)  # a new runtime, the same store
    assert (await client.post("/quota", json={}, headers=caller)).status == 429


async def test_max_concurrent_refuses_with_503_while_full(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    write(tmp_path / "p")
    caller = (await keys(tmp_path, "a"))["a"]
    gate = Gate()
    client = await start(tmp_path, aiohttp_client, gates={"single": gate})
    first = asyncio.ensure_future(client.post("/single", json={}, headers=caller))
    await gate.reached.wait()  # the first request holds the only slot
    busy = await client.post("/single", json={}, headers=caller)
    assert busy.status == 503
    assert busy.headers["Retry-After"] == "1"
    gate.open()
    assert (await first).status == 200
    assert (await client.post("/single", json={}, headers=caller)).status == 200  # freed


async def test_cors_preflight_and_response_headers(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    write(tmp_path / "p")
    caller = (await keys(tmp_path, "a"))["a"]
    client = await start(tmp_path, aiohttp_client)
    origin = {"Origin": "https://app.example"}
    preflight = await client.options(
        "/browser",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert preflight.status == 204  # no credentials needed for a preflight
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    other = await client.options(
        "/browser",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert other.status == 403
    answer = await client.post("/browser", json={}, headers={**caller, **origin})
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_and_usage_count_what_was_sent(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    write(tmp_path / "p")
    callers = await keys(tmp_path, "a", "b")
    client = await start(tmp_path, aiohttp_client)
    for _ in range(4):  # 3 admitted, 1 rate-limited
        await client.post("/limited", json={"n": 1}, headers=callers["a"])
    await client.post("/limited", json={}, headers=callers["b"])
    await client.post("/limited", json={})  # no key: 401
    response = await client.get("/metrics", headers=ADMIN)
    assert response.status == 200
    metrics = samples(await response.text())

    def value(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), math.nan)

    requests = "wharf_http_requests_total"
    assert value(requests, listener="limited", status_class="2xx") == 4
    assert value(requests, listener="limited", status_class="4xx") == 2
    assert value("wharf_http_rejected_total", listener="limited", reason="rate") == 1
    assert value("wharf_http_rejected_total", listener="limited", reason="auth") == 1
    assert value("wharf_http_request_duration_seconds_count", listener="limited") == 6
    assert value("wharf_executions_total", process="limited", trigger="listener",
                 status="succeeded") == 4  # fmt: skip
    # Bodies read: refused requests are answered before their body is read.
    assert value("wharf_http_request_bytes_total", listener="limited", direction="in") == 3 * 8 + 2

    usage = await (await client.get("/api/usage?by=caller", headers=ADMIN)).json()
    rows: dict[str, Any] = {row["caller"]: row for row in usage["items"]}
    key_a = next(
        caller for caller in rows if caller.startswith("key:") and rows[caller]["requests"] == 4
    )
    assert rows[key_a]["status"]["2xx"] == 3 and rows[key_a]["rejected"]["rate"] == 1
    assert sum(row["requests"] for row in rows.values()) == 6


async def test_a_soap_listener_rate_limit_answers_a_fault_with_429(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "echo.yaml").write_text(
        echo_soap_process("    rate_limit: {requests: 1, per: minute}\n")
    )
    caller = (await keys(tmp_path, "a"))["a"]
    client = await start(tmp_path, aiohttp_client)
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<echo xmlns="urn:echo"><text>hi</text></echo></s:Body></s:Envelope>'
    )
    headers = {**caller, "Content-Type": "text/xml; charset=utf-8"}
    assert (await client.post("/soap/echo", data=envelope, headers=headers)).status == 200
    limited = await client.post("/soap/echo", data=envelope, headers=headers)
    assert limited.status == 429
    assert limited.content_type == "text/xml"  # a SOAP 1.1 Fault, not a problem document
    assert "<faultcode>soap:Client</faultcode>" in await limited.text()
    assert limited.headers["Retry-After"] == "60"
