"""Idempotency keys over HTTP: scoped to the caller and the process, bound to the request.

Two API keys on one async listener: the same `Idempotency-Key` from two callers is two
deliveries; the same caller resending gets its first execution; the same caller sending a
different body under a used key gets 422 (as Stripe does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.loading.loader import load_directory
from runtime.security.api_keys import new_key
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.store import open_store
from runtime.testing import settled
from tests.helpers import ADMIN, ADMIN_KEY, Client, ClientFactory

PROCESSES = {
    "orders.yaml": (
        "name: orders\nrecord: full\n"
        "trigger:\n  http: {path: /orders, mode: async, auth: {api_key: {}}}\n"
        "steps:\n  - map: {fields: {n: doc.n, caller: props.auth_caller}}\n"
    ),
    "public.yaml": (
        "name: public\n"
        "trigger:\n  http: {path: /public, mode: async, auth: none}\n"
        "steps:\n  - map: {fields: {n: doc.n}}\n"
    ),
    "tagged.yaml": (  # the key comes from the body: the process says what a delivery is
        "name: tagged\n"
        "trigger:\n  http: {path: /tagged, mode: async, auth: none, idempotency_key: doc.id}\n"
        "steps:\n  - map: {fields: {n: doc.n}}\n"
    ),
}


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    directory = tmp_path / "processes"
    directory.mkdir()
    for name, text in PROCESSES.items():
        (directory / name).write_text(text)
    processes, connections, problems = load_directory(directory)
    assert problems == []
    store_url = f"sqlite:///{tmp_path}/store.db"
    store = open_store(store_url)
    await store.open()
    made = {name: new_key(name, processes=["orders"]) for name in ("alpha", "beta")}
    for item in made.values():
        await store.add_api_key(item.record)
    await store.close()
    app = create_app(
        processes, Settings(admin_key=ADMIN_KEY, store=store_url), connections=connections
    )
    test_client = await aiohttp_client(app)
    test_client.keys = {name: item.key for name, item in made.items()}  # type: ignore[attr-defined]
    return test_client


async def post(
    client: Client, path: str, body: dict[str, Any], key: str, api_key: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Idempotency-Key": key}
    if api_key is not None:
        headers["X-API-Key"] = api_key
    response = await client.post(path, json=body, headers=headers)
    return response.status, await response.json(content_type=None)


async def finished(client: Client, execution_id: str) -> dict[str, Any]:
    await settled(client.app)
    response = await client.get(f"/api/executions/{execution_id}", headers=ADMIN)
    record: dict[str, Any] = await response.json()
    assert record["status"] in ("succeeded", "failed"), record
    return record


async def test_two_callers_with_one_key_get_two_executions(client: Client) -> None:
    keys = client.keys  # type: ignore[attr-defined]
    status_a, first_a = await post(client, "/orders", {"n": 1}, "order-1", keys["alpha"])
    status_b, first_b = await post(client, "/orders", {"n": 2}, "order-1", keys["beta"])
    assert (status_a, status_b) == (202, 202)
    assert first_a["duplicate"] is False and first_b["duplicate"] is False
    assert first_a["execution_id"] != first_b["execution_id"]
    record_a = await finished(client, first_a["execution_id"])
    record_b = await finished(client, first_b["execution_id"])
    assert record_a["output"][0]["body"]["n"] == 1
    assert record_b["output"][0]["body"]["n"] == 2  # B's request ran, with B's body
    assert record_b["output"][0]["body"]["caller"] != record_a["output"][0]["body"]["caller"]

    # The same caller resending the same request gets its own first execution back.
    status, again_b = await post(client, "/orders", {"n": 2}, "order-1", keys["beta"])
    assert status == 202
    assert again_b == {**first_b, "duplicate": True}
    status, again_a = await post(client, "/orders", {"n": 1}, "order-1", keys["alpha"])
    assert again_a["execution_id"] == first_a["execution_id"] and again_a["duplicate"]


async def test_a_used_key_with_another_body_is_422(client: Client) -> None:
    keys = client.keys  # type: ignore[attr-defined]
    status, first = await post(client, "/orders", {"n": 1}, "order-9", keys["alpha"])
    assert status == 202
    status, problem = await post(client, "/orders", {"n": 99}, "order-9", keys["alpha"])
    assert status == 422
    assert problem["type"] == "urn:wharf:problem:idempotency-key-reused"
    assert problem["status"] == 422
    assert first["execution_id"] in problem["detail"]
    # Nothing new ran, and the first delivery is still the key's.
    await finished(client, first["execution_id"])
    response = await client.get("/api/executions", params={"process": "orders"}, headers=ADMIN)
    assert [item["id"] for item in (await response.json())["items"]] == [first["execution_id"]]
    status, again = await post(client, "/orders", {"n": 1}, "order-9", keys["alpha"])
    assert (status, again["duplicate"]) == (202, True)


async def test_anonymous_callers_share_one_scope(client: Client) -> None:
    status, first = await post(client, "/public", {"n": 1}, "p-1")
    assert status == 202
    status, again = await post(client, "/public", {"n": 1}, "p-1")
    assert again == {**first, "duplicate": True}
    status, problem = await post(client, "/public", {"n": 2}, "p-1")
    assert status == 422, problem


async def test_a_key_taken_from_the_body_names_the_delivery(client: Client) -> None:
    status, first = await post(client, "/tagged", {"id": "N-1", "n": 1}, "ignored")
    assert status == 202
    # Another body with the same id is the same delivery (a sender's redelivery may differ
    # in volatile parts): the first execution, not a 422.
    status, again = await post(client, "/tagged", {"id": "N-1", "n": 2}, "ignored")
    assert (status, again) == (202, {**first, "duplicate": True})
