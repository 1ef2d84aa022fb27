"""The admin API, driven endpoint by endpoint through the real app and an in-memory store."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from runtime.loading.loader import load_processes
from runtime.server.api.routes import ROUTES, openapi_document
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.testing import Gate, settled
from tests.helpers import ADMIN_KEY, admin_client

PROCESSES = {
    "echo.yaml": """
        name: echo
        description: Doubles n.
        record: full
        redact: [secret]
        trigger:
          http: {auth: none, method: POST, path: /echo, input: json, mode: async}
        steps:
          - map:
              fields:
                n: doc.n * 2
                secret: doc.secret | default(none)
    """,
    "flaky.yaml": """
        name: flaky
        trigger:
          http: {auth: none, method: POST, path: /flaky, input: json, mode: async}
        steps:
          - route:
              routes:
                - when: doc.fail
                  steps:
                    - fail: {status: 502, title: Upstream down}
    """,
    "slow.yaml": """
        name: slow
        trigger:
          http: {auth: none, method: POST, path: /slow, input: json}
        steps:   # held at a gate first (see the fixtures)
          - map: {fields: {done: true}}
    """,
}

Client = TestClient[Any, Any]


@pytest.fixture
def slow_gate() -> Gate:
    """Holds executions of `slow` until the test opens it."""
    return Gate()


@pytest.fixture
async def client(
    tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Client]], slow_gate: Gate
) -> Client:
    for name, text in PROCESSES.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://", workers=2, max_outstanding=50)
    processes = load_processes(tmp_path)
    slow_gate.install(next(p for p in processes if p.name == "slow"))
    return await admin_client(aiohttp_client, create_app(processes, settings))


def conforms(body: Any, schema_name: str) -> None:
    """The body matches the OpenAPI document's schema (3.1 schemas are JSON Schema)."""
    document = openapi_document()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    jsonschema.validate(body, schema)


async def wait_for_status(client: Client, execution_id: str, *statuses: str) -> dict[str, Any]:
    """The execution's record once everything in flight is recorded; its status is one of
    `statuses`."""
    await settled(client.app)
    response = await client.get(f"/api/executions/{execution_id}")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["status"] in statuses, body
    return dict(body)


async def test_openapi_document_is_valid(client: Client) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate(document)  # raises on an invalid OpenAPI document
    assert document == openapi_document()


async def test_the_document_describes_exactly_the_mounted_admin_routes(client: Client) -> None:
    """The router is the truth: every route under /api/ is an operation, and back.
    (`/metrics` may sit behind the admin guard too, but it is no part of the admin API.)"""
    mounted = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
    }
    documented = {
        (method, path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert mounted == documented
    assert len(documented) == len(ROUTES)


async def test_processes_list_and_get(client: Client) -> None:
    response = await client.get("/api/processes")
    assert response.status == 200
    items = (await response.json())["items"]
    assert [item["name"] for item in items] == ["echo", "flaky", "slow"]
    for item in items:
        conforms(item, "Process")
    echo = await (await client.get("/api/processes/echo")).json()
    assert echo["trigger"] == {
        "kind": "http", "method": "POST", "path": "/echo", "input": "json", "mode": "async",
        "auth": "none",
    }  # fmt: skip
    assert echo["record"] == "full"
    missing = await client.get("/api/processes/nope")
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"


async def test_async_listener_accepts_then_records(client: Client) -> None:
    response = await client.post("/echo", json={"n": 21, "secret": "hunter2"})
    assert response.status == 202
    accepted = await response.json()
    conforms(accepted, "Accepted")
    execution_id = accepted["execution_id"]
    assert response.headers["Location"] == f"/api/executions/{execution_id}"
    assert response.headers["X-Execution-Status-Link"] == response.headers["Location"]
    record = await wait_for_status(client, execution_id, "succeeded")
    conforms(record, "Execution")
    assert record["trigger"] == "listener"
    assert record["documents_in"] == record["documents_out"] == 1
    assert [entry["step"] for entry in record["trace"]] == ["steps[0].map"]
    assert record["output"][0]["body"] == {"n": 42, "secret": "***"}
    assert record["input"][0]["body"] == {"n": 21, "secret": "***"}
    assert "hunter2" not in str(record)


async def test_idempotency_key_returns_first_execution(client: Client) -> None:
    headers = {"Idempotency-Key": "delivery-7"}
    first = await (await client.post("/echo", json={"n": 1}, headers=headers)).json()
    again = await client.post("/echo", json={"n": 1}, headers=headers)
    assert again.status == 202
    assert again.headers["X-Idempotent-Replay"] == "true"
    second = await again.json()
    assert second == {**first, "duplicate": True}
    await wait_for_status(client, first["execution_id"], "succeeded")
    listing = await (await client.get("/api/executions", params={"process": "echo"})).json()
    assert [item["id"] for item in listing["items"]] == [first["execution_id"]]


async def test_execute_api_async_and_sync(client: Client) -> None:
    response = await client.post(
        "/api/processes/echo/executions", json={"properties": {"source": "api"}, "body": {"n": 5}}
    )
    assert response.status == 202
    execution_id = (await response.json())["execution_id"]
    record = await wait_for_status(client, execution_id, "succeeded")
    assert record["trigger"] == "api"
    assert record["input"][0]["properties"] == {"source": "api"}

    response = await client.post(
        "/api/processes/echo/executions?wait=2000", json={"body": {"n": 4}}
    )
    assert response.status == 200
    body = await response.json()
    conforms(body["execution"], "Execution")
    assert body["execution"]["status"] == "succeeded"
    assert body["documents"][0]["body"] == {"n": 8, "secret": None}
    assert response.headers["X-Execution-Id"] == body["execution"]["id"]

    bad = await client.post("/api/processes/echo/executions", data=b"{nope")
    assert bad.status == 400
    assert (await bad.json())["type"] == "urn:wharf:problem:malformed-json"
    unknown = await client.post("/api/processes/nope/executions", json={})
    assert unknown.status == 404


async def test_max_wait_answers_202_and_records_once(client: Client, slow_gate: Gate) -> None:
    response = await client.post("/slow", json={}, headers={"X-Max-Wait": "50"})
    assert response.status == 202
    execution_id = response.headers["X-Execution-Id"]
    assert response.headers["X-Execution-Status-Link"] == f"/api/executions/{execution_id}"
    running = await (await client.get(f"/api/executions/{execution_id}")).json()
    assert running["status"] == "running"
    slow_gate.open()
    record = await wait_for_status(client, execution_id, "succeeded")
    assert record["documents_out"] == 1
    listing = await (await client.get("/api/executions", params={"process": "slow"})).json()
    assert [item["id"] for item in listing["items"]] == [execution_id]
    # Without X-Max-Wait the same listener answers the result itself.
    direct = await client.post("/slow", json={})
    assert direct.status == 200
    assert await direct.json() == {"done": True}
    invalid = await client.post("/slow", json={}, headers={"X-Max-Wait": "soon"})
    assert invalid.status == 400


async def test_list_filters_and_cursor_pagination(client: Client) -> None:
    ids = []
    for n in range(5):
        body = await (await client.post("/echo", json={"n": n})).json()
        ids.append(body["execution_id"])
    failed = await (await client.post("/flaky", json={"fail": True})).json()
    for execution_id in ids:
        await wait_for_status(client, execution_id, "succeeded")
    await wait_for_status(client, failed["execution_id"], "failed")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"process": "echo", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/executions", params=params)).json()
        for item in page["items"]:
            conforms(item, "ExecutionSummary")
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == 5

    only_failed = await (await client.get("/api/executions", params={"status": "failed"})).json()
    assert [item["id"] for item in only_failed["items"]] == [failed["execution_id"]]
    error = only_failed["items"][0]["error"]
    assert error["type"] == "ProcessFailure" and error["step"].endswith(".fail")

    future = await (
        await client.get("/api/executions", params={"since": "2999-01-01T00:00:00"})
    ).json()
    assert future["items"] == []
    past = await (
        await client.get("/api/executions", params={"until": "2000-01-01T00:00:00"})
    ).json()
    assert past["items"] == []
    for params in ({"status": "bogus"}, {"limit": "0"}, {"since": "yesterday"}):
        bad = await client.get("/api/executions", params=params)
        assert bad.status == 400, params
        assert bad.content_type == "application/problem+json"
    assert (await client.get("/api/executions/does-not-exist")).status == 404


async def test_retry_of_failed_execution(client: Client) -> None:
    failed = await (await client.post("/flaky", json={"fail": True})).json()
    await wait_for_status(client, failed["execution_id"], "failed")
    response = await client.post(f"/api/executions/{failed['execution_id']}/retry")
    assert response.status == 202
    retry_id = (await response.json())["execution_id"]
    assert retry_id != failed["execution_id"]
    retried = await wait_for_status(client, retry_id, "failed")  # same input, same outcome
    assert retried["trigger"] == "retry"
    assert retried["parent_id"] == failed["execution_id"]
    # A retry is the next attempt: the record keeps the earlier attempt's outcome.
    assert retried["attempt"] == 2
    assert [(a["attempt"], a["execution_id"], a["status"]) for a in retried["attempts"]] == [
        (1, failed["execution_id"], "failed"),
        (2, retry_id, "failed"),
    ]
    conforms(retried, "Execution")

    ok = await (await client.post("/flaky", json={"fail": False})).json()
    await wait_for_status(client, ok["execution_id"], "succeeded")
    conflict = await client.post(f"/api/executions/{ok['execution_id']}/retry")
    assert conflict.status == 409
    assert (await client.post("/api/executions/nope/retry")).status == 404


async def test_big_integers_stay_exact_through_the_store_and_the_api(client: Client) -> None:
    big = 123456789012345678901234567890
    raw = b'{"n": 123456789012345678901234567890}'
    response = await client.post("/echo", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 202, await response.text()
    record = await wait_for_status(client, (await response.json())["execution_id"], "succeeded")
    assert record["input"][0]["body"]["n"] == big
    assert record["output"][0]["body"]["n"] == 2 * big
    text = await (await client.get(f"/api/executions/{record['id']}")).text()
    assert str(2 * big) in text and "e+" not in text

    envelope = b'{"body": {"n": 123456789012345678901234567890}}'
    response = await client.post(
        "/api/processes/echo/executions?wait=5000",
        data=envelope,
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert str(2 * big) in await response.text()


async def test_execute_api_refuses_a_key_reused_for_another_request(client: Client) -> None:
    url, headers = "/api/processes/echo/executions", {"Idempotency-Key": "api-1"}
    first = await client.post(url, json={"body": {"n": 1}}, headers=headers)
    assert first.status == 202
    again = await client.post(url, json={"body": {"n": 1}}, headers=headers)
    assert (await again.json())["execution_id"] == (await first.json())["execution_id"]
    other = await client.post(url, json={"body": {"n": 2}}, headers=headers)
    assert other.status == 422
    assert (await other.json())["type"] == "urn:wharf:problem:idempotency-key-reused"
