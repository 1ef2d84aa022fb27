"""Client addresses through trusted reverse proxies, end to end on a basic-auth listener
whose user is allowed from 10.0.0.0/8 only."""

from __future__ import annotations

import base64
import json
from ipaddress import ip_network
from pathlib import Path

from runtime.loading.loader import load_directory
from runtime.loading.security import load_security
from runtime.security.passwords import hash_password
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import ADMIN, ADMIN_KEY, Client, ClientFactory

AUTH = {"Authorization": "Basic " + base64.b64encode(b"carol:pw").decode()}


async def start(tmp_path: Path, aiohttp_client: ClientFactory, proxies: list[str]) -> Client:
    directory = tmp_path / "p"
    directory.mkdir(exist_ok=True)
    (directory / "p.yaml").write_text(
        "name: p\nrecord: full\ntrigger: {http: {path: /p, auth: {basic: {}}}}\nsteps: []\n"
    )
    users = {"carol": {"password_hash": hash_password("pw"), "processes": ["p"],
                       "ip_allow": ["10.0.0.0/8"]}}  # fmt: skip
    (directory / "security.yaml").write_text(json.dumps({"users": users}))
    processes, connections, problems = load_directory(directory)
    assert problems == []
    security, _ = load_security(directory)
    settings = Settings(
        admin_key=ADMIN_KEY,
        store="sqlite://",
        trusted_proxies=[ip_network(p) for p in proxies],
    )
    return await aiohttp_client(
        create_app(processes, settings, connections=connections, security=security)
    )


async def test_forwarded_addresses_count_only_through_trusted_proxies(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    forwarded = {**AUTH, "X-Forwarded-For": "203.0.113.9, 10.1.2.3"}
    # No trusted proxies: the header is ignored; the peer (127.0.0.1) is not in 10/8.
    plain = await start(tmp_path, aiohttp_client, [])
    assert (await plain.post("/p", json={}, headers=forwarded)).status == 403
    await plain.close()

    # The test client's address is a trusted proxy: the last untrusted hop is the client.
    proxied = await start(tmp_path, aiohttp_client, ["127.0.0.0/8"])
    assert (await proxied.post("/p", json={}, headers=forwarded)).status == 200
    spoofed = {**AUTH, "X-Forwarded-For": "10.1.2.3, 203.0.113.9"}  # the proxy saw .9
    assert (await proxied.post("/p", json={}, headers=spoofed)).status == 403
    listing = await (await proxied.get("/api/executions?process=p", headers=ADMIN)).json()
    (only,) = listing["items"]
    record = await (await proxied.get(f"/api/executions/{only['id']}", headers=ADMIN)).json()
    assert record["input"][0]["properties"]["inclientaddress"] == "10.1.2.3"
