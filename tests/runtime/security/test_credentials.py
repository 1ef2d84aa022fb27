"""Credentials as real clients send them: basic auth that does not reveal which users exist,
and admin keys accepted as `X-API-Key` and as `Authorization: Bearer` alike."""

from __future__ import annotations

import base64
import json
import statistics
import time
from pathlib import Path

import pytest

from runtime.loading.loader import load_directory
from runtime.loading.security import load_security
from runtime.security import passwords
from runtime.security.passwords import hash_password
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import Client, ClientFactory


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def start(
    tmp_path: Path, aiohttp_client: ClientFactory, admin_key: str = "operator-chosen-key"
) -> Client:
    directory = tmp_path / "p"
    directory.mkdir(exist_ok=True)
    (directory / "p.yaml").write_text(
        "name: p\ntrigger: {http: {path: /p, auth: {basic: {}}}}\nsteps: []\n"
    )
    # Not the default cost: an unknown user's check must cost what a real user's does.
    users = {"carol": {"password_hash": hash_password("right", n=2**13), "processes": ["p"]}}
    (directory / "security.yaml").write_text(json.dumps({"users": users}))
    processes, connections, problems = load_directory(directory)
    assert problems == []
    security, _ = load_security(directory)
    settings = Settings(admin_key=admin_key, store="sqlite://")
    return await aiohttp_client(
        create_app(processes, settings, connections=connections, security=security)
    )


async def test_unknown_basic_users_cost_the_same_scrypt_as_wrong_passwords(
    tmp_path: Path, aiohttp_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await start(tmp_path, aiohttp_client)
    checks: list[str] = []
    real_check = passwords._check

    def counting_check(password: str, stored: str) -> bool:
        checks.append(stored.rsplit("$", 2)[0])  # the cost part: scrypt$n$r$p
        return real_check(password, stored)

    monkeypatch.setattr(passwords, "_check", counting_check)
    # Structurally: every refusal ran one scrypt, whether or not the user exists.
    for user, password in [("carol", "wrong"), ("mallory", "guess"), ("nocolon", None)]:
        if password is None:
            headers = {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}
        else:
            headers = basic(user, password)
        before = len(checks)
        assert (await client.post("/p", json={}, headers=headers)).status == 401
        assert checks[before:] == ["scrypt$8192$8$1"], user

    # And by the clock (a real-clock test: timing is the behaviour under test). Medians of
    # several tries, with a wide margin for a busy shared machine: scrypt takes tens of ms,
    # a plain dictionary miss well under one.
    async def median_ms(user: str) -> float:
        times = []
        for attempt in range(7):
            started = time.perf_counter()
            response = await client.post("/p", json={}, headers=basic(user, f"wrong{attempt}"))
            times.append((time.perf_counter() - started) * 1000)
            assert response.status == 401
        return statistics.median(times)

    known = await median_ms("carol")
    unknown = await median_ms("mallory")
    assert unknown >= known / 2, (known, unknown)


@pytest.mark.parametrize("admin_key", ["operator-chosen-key", "wharf_abc_operator-chosen"])
async def test_any_admin_key_works_as_x_api_key_and_as_bearer(
    tmp_path: Path, aiohttp_client: ClientFactory, admin_key: str
) -> None:
    client = await start(tmp_path, aiohttp_client, admin_key)
    as_header = await client.get("/metrics", headers={"X-API-Key": admin_key})
    assert as_header.status == 200
    # How Prometheus sends a credential (`authorization: {credentials: ...}` in a scrape job).
    as_bearer = await client.get("/metrics", headers={"Authorization": f"Bearer {admin_key}"})
    assert as_bearer.status == 200
    assert "wharf_http_requests_total" in await as_bearer.text()
    listed = await client.get("/api/processes", headers={"Authorization": f"Bearer {admin_key}"})
    assert listed.status == 200

    wrong = await client.get("/api/processes", headers={"Authorization": "Bearer not-the-key"})
    assert wrong.status == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    problem = await wrong.json()
    # The refusal says where an admin key comes from (never which part was wrong).
    assert "WHARF_ADMIN_KEY" in problem["detail"]
    assert "wharf keys create --admin" in problem["detail"]
    assert admin_key not in json.dumps(problem)
