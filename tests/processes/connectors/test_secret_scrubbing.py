"""Secrets Wharf resolves or obtains never reach a stored record, even when an upstream
echoes the request's credentials back: read through the admin API and in the raw SQLite
store files (database and WAL)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.loading.loader import load_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE
from tests.helpers import ADMIN_KEY, admin_client

USER = "wharf-user"
PASSWORD = "pw-3c8e-basic"
TOKEN = "bearer-tok-77aa19"
KEY = "apikey-q-5521+/="
CLIENT_SECRET = "oauth-client-s3cr3t"
ISSUED = "issued-access-token-90fe12"


async def echo(request: web.Request) -> web.Response:
    """Answers with everything the request carried: headers and query, raw and decoded."""
    return web.json_response(
        {"headers": dict(request.headers), "query": request.query_string, "raw": str(request.url)}
    )


async def echo_text(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(dict(request.headers)), content_type="text/plain")


async def token(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("client_secret") != CLIENT_SECRET:
        return web.json_response({"error": "invalid_client"}, status=401)
    return web.json_response({"access_token": ISSUED, "expires_in": 3600})


async def failing(request: web.Request) -> web.Response:
    return web.json_response({"echo": dict(request.headers)}, status=500)


def store_files(directory: Path) -> bytes:
    """The SQLite store's bytes as they are on disk: database, WAL and shared memory."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("w.db*")))


def forms() -> list[str]:
    """Every form in which the secrets above travel."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD, basic, TOKEN, KEY, quote(KEY, safe=""), ISSUED, CLIENT_SECRET]


def definitions(directory: Path, url: str) -> None:
    connections = {
        "basic": [{"kind": "basic", "username": USER, "password": "${env:WHARF_T_PW}"}],
        "bearer": [
            {"kind": "bearer", "token": "${env:WHARF_T_TOKEN}"},
            {"kind": "api_key", "name": "key", "value": "${env:WHARF_T_KEY}", "in": "query"},
        ],
        "oauth": [
            {
                "kind": "oauth2",
                "token_url": f"{url}/oauth/token",
                "client_id": "wharf",
                "client_secret": "${env:WHARF_T_CLIENT}",
            },
            {"kind": "api_key", "name": "X-Key", "value": "${env:WHARF_T_KEY}"},
        ],
    }
    (directory / "connections.yaml").write_text(
        json.dumps(
            {
                "connections": {
                    name: {"connector": "http", "base_url": f"{url}/api", "credentials": creds}
                    for name, creds in connections.items()
                }
            }
        )
    )
    for name in connections:
        # The echo as JSON (the record keeps it parsed) and as raw text (kept base64).
        for echoed in ("echo", "text"):
            step = {"connection": name, "method": "GET", "path": f"'/{echoed}'"}
            process = {
                "name": f"{name}-{echoed}",
                "record": "full",
                "trigger": {"http": {"auth": "none", "path": f"/{name}-{echoed}"}},
                "steps": [{"http.request": step}],
            }
            (directory / f"{name}-{echoed}.yaml").write_text(json.dumps(process))
    failing_process = {
        "name": "failing",
        "record": "full",
        "trigger": {"http": {"auth": "none", "path": "/failing"}},
        "steps": [
            {
                "http.request": {
                    "connection": "oauth",
                    "method": "GET",
                    "path": "'/fail'",
                    "retry": {"attempts": 1},
                }
            }
        ],
    }
    (directory / "failing.yaml").write_text(json.dumps(failing_process))


async def test_echoed_credentials_are_scrubbed_from_records_and_store_files(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("WHARF_T_PW", PASSWORD)
    monkeypatch.setenv("WHARF_T_TOKEN", TOKEN)
    monkeypatch.setenv("WHARF_T_KEY", KEY)
    monkeypatch.setenv("WHARF_T_CLIENT", CLIENT_SECRET)
    upstream = web.Application()
    upstream.router.add_get("/api/echo", echo)
    upstream.router.add_get("/api/text", echo_text)
    upstream.router.add_get("/api/fail", failing)
    upstream.router.add_post("/oauth/token", token)
    server = await aiohttp_server(upstream)
    directory = tmp_path / "defs"
    directory.mkdir()
    definitions(directory, f"http://127.0.0.1:{server.port}")
    processes, configs, problems = load_directory(directory)
    assert problems == [], problems
    store = tmp_path / "w.db"
    app = create_app(
        processes, Settings(admin_key=ADMIN_KEY, store=f"sqlite:///{store}"), connections=configs
    )
    client = await admin_client(aiohttp_client, app)
    caplog.set_level(logging.DEBUG)

    seen = ""  # records through the admin API (raw bodies decoded), the failure's problem
    names = [f"{c}-{e}" for c in ("basic", "bearer", "oauth") for e in ("echo", "text")]
    for name in [*names, "failing"]:
        answer = await client.post(f"/{name}", json={"order": 1})
        if name == "failing":
            assert answer.status == 502
            seen += await answer.text()
        execution_id = answer.headers["X-Execution-Id"]
        record = await client.get(f"/api/executions/{execution_id}")
        assert record.status == 200
        seen += await record.text()
        for document in (await record.json())["output"] or []:
            if document["kind"] == "raw":
                seen += base64.b64decode(document["body"]).decode()
    await app[STATE].store.flush()
    files = await asyncio.to_thread(store_files, tmp_path)
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("wharf"))
    for form in forms():
        assert form not in seen, form
        assert form.encode() not in files, form
        assert form not in log, form
    assert "Basic ***" in seen and "Bearer ***" in seen  # the echoes were there, scrubbed
