"""Listener auth over HTTP, each kind with good and bad credentials.

Every refusal is a 401/403 problem whose detail does not say which check failed, and
none reaches the process: no execution is recorded for a refused request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client.parser import text_string_to_metric_families

from runtime.loading.loader import load_directory
from runtime.loading.security import load_security
from runtime.security.api_keys import new_key
from runtime.security.passwords import hash_password
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE
from runtime.store import open_store
from tests.helpers import ADMIN, ADMIN_KEY, Client, ClientFactory, echo_soap_process

HS_SECRET = "an-hs256-secret-that-is-32-bytes-or-more!"
HOOK_SECRET = "whsec_listener_test"
PASSWORD = "correct horse battery staple"


def listener(name: str, auth: str) -> str:
    return (
        f"name: {name}\nrecord: full\n"
        f"trigger:\n  http:\n    path: /{name}\n    auth: {auth}\n"
        "steps:\n  - set: {properties: {seen: \"'yes'\"}}\n"
    )


@pytest.fixture
def keys() -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"private": private, "other": other}


@pytest.fixture
async def client(
    tmp_path: Path,
    keys: dict[str, Any],
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    monkeypatch.setenv("T_HS_SECRET", HS_SECRET)
    monkeypatch.setenv("T_HOOK_SECRET", HOOK_SECRET)
    public_pem = (
        keys["private"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "rs.pem").write_bytes(public_pem)
    directory = tmp_path / "processes"
    directory.mkdir()
    hook = "secret: '${env:T_HOOK_SECRET}'"
    files = {
        "key": "{api_key: {query: api_key}}",
        "basic": "{basic: {}}",
        "hs": "{jwt: {algorithms: [HS256], secret: '${env:T_HS_SECRET}', audience: wharf, "
        "issuer: 'https://issuer.test', claims_as_properties: [sub, tenant]}}",
        "rs": f"{{jwt: {{algorithms: [RS256], public_key_file: '{tmp_path}/rs.pem', "
        "audience: wharf}}",
        "github": f"{{signature: {{preset: github, {hook}}}}}",
        "stripe": f"{{signature: {{preset: stripe, {hook}}}}}",
        "slack": f"{{signature: {{preset: slack, {hook}}}}}",
        "either": "{api_key: {}, basic: {}}",
    }
    for name, auth in files.items():
        (directory / f"{name}.yaml").write_text(listener(name, auth))
    users = {
        "alice": {"password_hash": hash_password(PASSWORD), "processes": ["basic", "either"]},
        "bob": {"password_hash": hash_password(PASSWORD), "processes": ["key"]},
        "carol": {
            "password_hash": hash_password(PASSWORD),
            "processes": ["*"],
            "ip_allow": ["10.0.0.0/8"],
        },
    }
    (directory / "security.yaml").write_text(json.dumps({"users": users}))
    processes, connections, problems = load_directory(directory)
    assert problems == []
    security, _ = load_security(directory)
    store_url = f"sqlite:///{tmp_path}/store.db"
    store = open_store(store_url)
    await store.open()
    made = {
        "ci": new_key("ci", processes=["key", "either"]),
        "elsewhere": new_key("elsewhere", processes=["other"]),
        "admin": new_key("ops", admin=True),
    }
    for item in made.values():
        await store.add_api_key(item.record)
    await store.close()
    settings = Settings(admin_key=ADMIN_KEY, store=store_url)
    app = create_app(processes, settings, connections=connections, security=security)
    test_client = await aiohttp_client(app)
    test_client.made = made  # type: ignore[attr-defined]
    return test_client


async def executions(client: Client, process: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/executions?process={process}", headers=ADMIN)
    assert response.status == 200
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def refused(client: Client, status: int, path: str, **kwargs: Any) -> None:
    response = await client.post(path, **kwargs)
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    expected = {
        401: "missing or invalid credentials",
        403: "these credentials are not allowed here",
    }
    assert body["detail"] == expected[status]  # never which check failed
    if status == 401:
        assert "WWW-Authenticate" in response.headers or path.startswith(("/github", "/st", "/sl"))


async def properties_of(client: Client, process: str) -> dict[str, Any]:
    (latest, *_) = await executions(client, process)
    record = await (await client.get(f"/api/executions/{latest['id']}", headers=ADMIN)).json()
    result: dict[str, Any] = record["input"][0]["properties"]
    return result


async def test_api_keys(client: Client) -> None:
    made = client.made  # type: ignore[attr-defined]
    await refused(client, 401, "/key", json={})
    await refused(client, 401, "/key", json={}, headers={"X-API-Key": "wharf_abc_wrong"})
    wrong_secret = made["ci"].key[:-4] + "AAAA"
    await refused(client, 401, "/key", json={}, headers={"X-API-Key": wrong_secret})
    await refused(client, 403, "/key", json={}, headers={"X-API-Key": made["elsewhere"].key})
    await refused(client, 403, "/key", json={}, headers={"X-API-Key": made["admin"].key})
    assert await executions(client, "key") == []

    ok = await client.post("/key", json={}, headers={"X-API-Key": made["ci"].key})
    assert ok.status == 200
    bearer = {"Authorization": f"Bearer {made['ci'].key}"}
    assert (await client.post("/key", json={}, headers=bearer)).status == 200
    by_query = await client.post(f"/key?api_key={made['ci'].key}", json={})
    assert by_query.status == 200
    properties = await properties_of(client, "key")
    assert properties["auth_kind"] == "api_key"
    assert properties["auth_caller"] == f"key:{made['ci'].record.id}"
    assert made["ci"].key not in json.dumps(properties)  # the key itself is never a property
    assert len(await executions(client, "key")) == 3

    # A revoked key stops working (the listener's cache expires within seconds).
    state = client.app[STATE]
    await state.store.revoke_api_key(made["ci"].record.id)
    await state.api_keys.refresh()  # as the cache does within seconds
    await refused(client, 401, "/key", json={}, headers={"X-API-Key": made["ci"].key})


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_basic_users_with_process_and_address_allow_lists(client: Client) -> None:
    await refused(client, 401, "/basic", json={})
    await refused(client, 401, "/basic", json={}, headers=basic("alice", "wrong"))
    await refused(client, 401, "/basic", json={}, headers=basic("mallory"))
    await refused(client, 401, "/basic", json={}, headers={"Authorization": "Basic !!"})
    await refused(client, 403, "/basic", json={}, headers=basic("bob"))  # not his process
    await refused(client, 403, "/basic", json={}, headers=basic("carol"))  # not from 10/8
    assert await executions(client, "basic") == []
    ok = await client.post("/basic", json={}, headers=basic("alice"))
    assert ok.status == 200
    properties = await properties_of(client, "basic")
    assert (properties["auth_user"], properties["auth_caller"]) == ("alice", "user:alice")


def hs_token(**claims: Any) -> str:
    payload = {"sub": "svc-1", "aud": "wharf", "iss": "https://issuer.test", "tenant": "acme"}
    payload["exp"] = int(time.time()) + 300
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, HS_SECRET, "HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_jwt_hs256(client: Client) -> None:
    alg_none = (
        b64url({"alg": "none", "typ": "JWT"})
        + "."
        + b64url(
            {"sub": "x", "aud": "wharf", "iss": "https://issuer.test", "exp": int(time.time()) + 60}
        )
        + "."
    )
    bad = [
        hs_token(exp=int(time.time()) - 120),  # expired beyond the 30 s leeway
        hs_token(aud="someone-else"),
        hs_token(iss="https://evil.test"),
        hs_token(exp=None),  # no exp at all
        jwt.encode({"sub": "x", "aud": "wharf", "exp": 9999999999}, "x" * 40, "HS256"),
        alg_none,
        "not.a.token",
    ]
    for token in bad:
        await refused(client, 401, "/hs", json={}, headers=bearer(token))
    assert await executions(client, "hs") == []
    ok = await client.post("/hs", json={}, headers=bearer(hs_token()))
    assert ok.status == 200
    properties = await properties_of(client, "hs")
    assert (properties["jwt_sub"], properties["jwt_tenant"]) == ("svc-1", "acme")


async def test_jwt_rs256_refuses_other_keys_and_algorithm_confusion(
    client: Client, keys: dict[str, Any]
) -> None:
    claims = {"sub": "svc-2", "aud": "wharf", "exp": int(time.time()) + 300}
    public_pem = (
        keys["private"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    confused = (  # HS256 "signed" with the RS256 public key as its HMAC secret
        b64url({"alg": "HS256", "typ": "JWT"}) + "." + b64url(claims)
    )
    signature = hmac.new(public_pem, confused.encode(), hashlib.sha256).digest()
    confused += "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    for token in (
        jwt.encode(claims, keys["other"], "RS256"),  # another key
        jwt.encode({**claims, "aud": "elsewhere"}, keys["private"], "RS256"),
        confused,
        hs_token(),
    ):
        await refused(client, 401, "/rs", json={}, headers=bearer(token))
    assert await executions(client, "rs") == []
    ok = await client.post(
        "/rs", json={}, headers=bearer(jwt.encode(claims, keys["private"], "RS256"))
    )
    assert ok.status == 200


def mac(payload: bytes) -> str:
    return hmac.new(HOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()


async def test_webhook_signatures(client: Client) -> None:
    body = b'{"action": "opened", "number": 7}'
    now = int(time.time())
    cases = {
        "github": (
            {"X-Hub-Signature-256": f"sha256={mac(body)}"},
            [{"X-Hub-Signature-256": f"sha256={mac(body + b' ')}"}, {}],
        ),
        "stripe": (
            {"Stripe-Signature": f"t={now},v1=00,v1={mac(f'{now}.'.encode() + body)}"},
            [
                {"Stripe-Signature": f"t={now},v1={mac(b'tampered')}"},
                {  # a genuine signature, replayed after the 5 minute tolerance
                    "Stripe-Signature": f"t={now - 600},v1={mac(f'{now - 600}.'.encode() + body)}"
                },
            ],
        ),
        "slack": (
            {
                "X-Slack-Request-Timestamp": str(now),
                "X-Slack-Signature": f"v0={mac(f'v0:{now}:'.encode() + body)}",
            },
            [
                {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=00"},
                {
                    "X-Slack-Request-Timestamp": str(now - 600),
                    "X-Slack-Signature": f"v0={mac(f'v0:{now - 600}:'.encode() + body)}",
                },
            ],
        ),
    }
    for name, (good, bad) in cases.items():
        headers = {"Content-Type": "application/json"}
        for wrong in bad:
            await refused(client, 401, f"/{name}", data=body, headers={**headers, **wrong})
        assert await executions(client, name) == [], name
        ok = await client.post(f"/{name}", data=body, headers={**headers, **good})
        assert ok.status == 200, name
        assert len(await executions(client, name)) == 1


async def test_several_methods_admit_with_any(client: Client) -> None:
    made = client.made  # type: ignore[attr-defined]
    assert (await client.post("/either", json={}, headers=basic("alice"))).status == 200
    key = {"X-API-Key": made["ci"].key}
    assert (await client.post("/either", json={}, headers=key)).status == 200
    await refused(client, 401, "/either", json={})


async def test_the_admin_api_needs_an_admin_credential(client: Client) -> None:
    made = client.made  # type: ignore[attr-defined]
    assert (await client.get("/api/processes")).status == 401
    listener_key = {"X-API-Key": made["ci"].key}
    assert (await client.get("/api/processes", headers=listener_key)).status == 403
    for headers in ({"X-API-Key": made["admin"].key}, ADMIN, bearer(made["admin"].key)):
        assert (await client.get("/api/processes", headers=headers)).status == 200
    assert (await client.get("/healthz")).status == 200  # health stays open
    assert (await client.get("/metrics")).status == 401  # metrics: admin by default


async def test_a_soap_listener_refuses_with_a_fault_of_the_callers_version(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    directory = tmp_path / "soap"
    directory.mkdir()
    (directory / "echo.yaml").write_text(echo_soap_process())
    processes, connections, problems = load_directory(directory)
    assert problems == []
    store_url = f"sqlite:///{tmp_path}/soap.db"
    store = open_store(store_url)
    await store.open()
    key = new_key("soap-caller", processes=["echo"])
    await store.add_api_key(key.record)
    await store.close()
    settings = Settings(admin_key=ADMIN_KEY, store=store_url)
    client = await aiohttp_client(create_app(processes, settings, connections=connections))
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        '<echo xmlns="urn:echo"><text>hi</text></echo></s:Body></s:Envelope>'
    )
    soap12 = {"Content-Type": "application/soap+xml; charset=utf-8"}
    denied = await client.post("/soap/echo", data=envelope, headers=soap12)
    assert denied.status == 401
    assert denied.content_type == "application/soap+xml"
    text = await denied.text()
    assert "soap-envelope" in text and "missing or invalid credentials" in text
    assert await executions(client, "echo") == []
    ok = await client.post("/soap/echo", data=envelope, headers={**soap12, "X-API-Key": key.key})
    assert ok.status == 200
    assert "<text>hi</text>" in await ok.text()
    scraped = await (await client.get("/metrics", headers=ADMIN)).text()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    rejected = ("wharf_http_rejected_total", (("listener", "/soap/echo"), ("reason", "auth")))
    answered = (
        "wharf_http_requests_total",
        (("listener", "/soap/echo"), ("status_class", "2xx")),
    )
    assert (samples[rejected], samples[answered]) == (1, 1)
