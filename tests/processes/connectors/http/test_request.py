"""The http connector against a real aiohttp server that misbehaves on demand."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from processes.connectors.http import HttpRetry
from runtime.core import retry
from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.connections import load_connections
from runtime.loading.loader import load_directory
from tests.helpers import ADMIN_KEY, admin_client

SECRETS = {
    "WHARF_T_PASSWORD": "pa55-word-xyz",
    "WHARF_T_TOKEN": "tok-abc-123456",
    "WHARF_T_KEY": "key-987-zyx",
    "WHARF_T_CLIENT_SECRET": "client-secret-777",
    "WHARF_T_HMAC": "hmac-secret-555",
}


class Upstream:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.tokens_issued = 0
        self.seen: list[dict[str, Any]] = []
        self.done = asyncio.Event()  # set when the test ends: `slow` answers only then

    def count(self, name: str) -> int:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self.calls[name]

    async def flaky(self, request: web.Request) -> web.Response:
        if self.count("flaky") == 1:
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": "1"}
            )
        return web.json_response({"ok": True, "got": await request.json()})

    async def unavailable(self, request: web.Request) -> web.Response:
        if self.count("unavailable") < 3:
            return web.json_response({"error": "maintenance"}, status=503)
        return web.json_response({"back": True})

    async def slow(self, request: web.Request) -> web.Response:
        self.count("slow")
        await self.done.wait()  # slower than any timeout of the test
        return web.json_response({"late": True})

    async def broken(self, request: web.Request) -> web.Response:
        self.count("broken")
        return web.json_response({"error": "boom"}, status=500)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(
            {
                "headers": dict(request.headers),
                "query": dict(request.query),
                "cookies": dict(request.cookies),
                "body": body,
            }
        )
        return web.json_response({"n": len(self.seen)})

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_secret") != SECRETS["WHARF_T_CLIENT_SECRET"]:
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": f"issued-{self.tokens_issued}", "expires_in": 3600}
        )

    async def protected(self, request: web.Request) -> web.Response:
        # The first token is "revoked": a 401 must trigger exactly one refresh.
        if (
            request.headers.get("Authorization") != f"Bearer issued-{self.tokens_issued}"
            or self.tokens_issued < 2
        ):
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"secret": "data"})


@pytest.fixture
async def upstream(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[tuple[Upstream, str]]:
    state = Upstream()
    app = web.Application()
    app.router.add_post("/api/flaky", state.flaky)
    app.router.add_post("/api/broken", state.broken)
    app.router.add_post("/api/unavailable", state.unavailable)
    app.router.add_post("/api/slow", state.slow)
    app.router.add_post("/api/echo", state.echo)
    app.router.add_post("/oauth/token", state.token)
    app.router.add_get("/api/protected", state.protected)
    server = await aiohttp_server(app)
    yield state, f"http://127.0.0.1:{server.port}"
    state.done.set()


def build(tmp_path: Path, base_url: str, credentials: str, steps: str) -> tuple[Any, Connections]:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              api:
                connector: http
                base_url: {base_url}/api
                credentials:
            """
        )
        + textwrap.indent(textwrap.dedent(credentials), "      ")
    )
    (tmp_path / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
    )
    processes, configs, problems = load_directory(tmp_path)
    assert problems == [], problems
    return processes[0], Connections(configs)


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


async def test_429_with_retry_after_is_retried(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    state, url = upstream
    process, connections = build(
        tmp_path, url, "[]", "- http.request: {connection: api, path: \"'/flaky'\"}"
    )
    started = time.monotonic()
    result = await process.execute([Document.json({"order": 7})], connections=connections)
    assert result.execution.error is None, result.execution.error
    assert time.monotonic() - started >= 0.95  # waited for Retry-After: 1
    assert state.calls["flaky"] == 2
    (document,) = result.documents
    assert document.body == {"ok": True, "got": {"order": 7}}
    assert document.properties["http_status"] == 200
    await connections.close()


async def test_permanent_500_fails_after_the_attempts(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    state, url = upstream
    process, connections = build(
        tmp_path,
        url,
        "[]",
        "- http.request:\n"
        "    {connection: api, path: \"'/broken'\", retry: {attempts: 3, backoff: 10ms}}",
    )
    result = await process.execute([Document.json({})], connections=connections)
    error = result.execution.error
    assert error is not None
    assert "POST /api/broken answered 500 after 3 attempt(s)" in error.detail
    assert state.calls["broken"] == 3
    await connections.close()


class FakeAsyncio:
    """Stands in for the `asyncio` module as the retry loop sees it: only `sleep` is used."""

    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    async def sleep(self, seconds: float) -> None:  # records the wait, never waits
        self.waits.append(seconds)


async def test_waits_follow_the_shared_retry_policy(
    upstream: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry, "asyncio", FakeAsyncio(waits))
    state, url = upstream
    retry_block = "{attempts: 4, backoff: 1s, factor: 3, max_backoff: 5s, jitter: false}"
    process, connections = build(
        tmp_path,
        url,
        "[]",
        f"- http.request: {{connection: api, path: \"'/broken'\", retry: {retry_block}}}",
    )
    result = await process.execute([Document.json({})], connections=connections)
    assert result.execution.error is not None
    assert state.calls["broken"] == 4
    assert waits == [1.0, 3.0, 5.0]  # as `try` waits; none after the last attempt

    # The defaults keep their jitter: every wait between 0 and its back-off.
    waits.clear()
    process, _ = build(
        tmp_path / "default", url, "[]", "- http.request: {connection: api, path: \"'/broken'\"}"
    )
    await process.execute([Document.json({})], connections=connections)
    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0
    await connections.close()


def test_http_retry_defaults_and_the_keys_it_always_took() -> None:
    policy = HttpRetry.model_validate(
        {"attempts": 5, "backoff": "10ms", "max_backoff": "2s", "max_retry_after": 30}
    )
    assert (policy.attempts, policy.backoff, policy.max_backoff) == (5, 0.01, 2.0)
    assert policy.max_retry_after == 30.0
    default = HttpRetry()
    assert (default.attempts, default.backoff, default.factor) == (3, 0.5, 2.0)
    assert (default.max_backoff, default.jitter, default.max_retry_after) == (30.0, True, 60.0)


async def test_credentials_in_order_and_no_secret_leaks(
    upstream: tuple[Upstream, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state, url = upstream
    credentials = """
        - {kind: basic, username: wharf, password: "${env:WHARF_T_PASSWORD}"}
        - {kind: api_key, name: X-Api-Key, value: "${env:WHARF_T_KEY}", in: header}
        - {kind: api_key, name: key, value: "${env:WHARF_T_KEY}", in: query}
        - {kind: api_key, name: session, value: "${env:WHARF_T_KEY}", in: cookie}
        - kind: hmac
          secret: "${env:WHARF_T_HMAC}"
          header: X-Hub-Signature-256
          prefix: "sha256="
    """
    process, connections = build(
        tmp_path, url, credentials, "- http.request: {connection: api, path: \"'/echo'\"}"
    )
    caplog.set_level(logging.DEBUG)
    result = await process.execute([Document.json({"a": 1})], connections=connections)
    assert result.execution.error is None, result.execution.error
    seen = state.seen[0]
    expected_basic = base64.b64encode(f"wharf:{SECRETS['WHARF_T_PASSWORD']}".encode()).decode()
    assert seen["headers"]["Authorization"] == f"Basic {expected_basic}"
    assert seen["headers"]["X-Api-Key"] == SECRETS["WHARF_T_KEY"]  # no implicit prefix
    assert seen["query"] == {"key": SECRETS["WHARF_T_KEY"]}
    assert seen["cookies"] == {"session": SECRETS["WHARF_T_KEY"]}
    digest = hmac.new(SECRETS["WHARF_T_HMAC"].encode(), seen["body"], hashlib.sha256).hexdigest()
    assert seen["headers"]["X-Hub-Signature-256"] == f"sha256={digest}"

    # Now a failing upstream: the error, the record and the log hold no secret.
    process, _ = build(
        tmp_path / "failing",
        url,
        credentials,
        "- http.request:\n"
        "    {connection: api, path: \"'/broken'\", retry: {attempts: 2, backoff: 1ms}}",
    )
    failed = await process.execute([Document.json({"a": 1})], connections=connections)
    # Wharf's own log lines (the fake upstream's access log is the upstream's business).
    wharf_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("wharf"))
    text = (
        orjson.dumps(failed.execution.summary()).decode() + str(failed.execution.error) + wharf_log
    )
    for secret in SECRETS.values():
        assert secret not in text
    await connections.close()


async def test_oauth2_token_cached_and_refreshed_once_on_401(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    state, url = upstream
    credentials = f"""
        - kind: oauth2
          token_url: {url}/oauth/token
          client_id: wharf
          client_secret: "${{env:WHARF_T_CLIENT_SECRET}}"
    """
    process, connections = build(
        tmp_path,
        url,
        credentials,
        "- http.request: {connection: api, method: GET, path: \"'/protected'\"}",
    )
    result = await process.execute([Document.empty(), Document.empty()], connections=connections)
    assert result.execution.error is None, result.execution.error
    assert [d.body for d in result.documents] == [{"secret": "data"}, {"secret": "data"}]
    assert state.tokens_issued == 2  # the first, then exactly one refresh after its 401
    await connections.close()


def test_literal_secrets_and_bad_variables_are_refused(tmp_path: Path) -> None:
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(
            """
            connections:
              leaky:
                connector: http
                base_url: https://api.example.com
                credentials:
                  - {kind: bearer, token: literally-my-token}
              slots:
                connector: http
                base_url: https://{{tenant}}.example.com
            """
        )
    )
    _, problems = load_connections(tmp_path)
    messages = [str(p) for p in problems]
    assert len(messages) == 2, messages
    assert "credentials[0].token is a literal secret" in messages[0]
    assert "literally-my-token" not in " ".join(messages)
    assert "base_url uses {{tenant}}" in messages[1]


async def test_503s_are_retried_and_timeouts_fail_cleanly(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    state, url = upstream
    process, connections = build(
        tmp_path,
        url,
        "[]",
        """
        - http.request:
            connection: api
            path: "'/unavailable'"
            retry: {attempts: 3, backoff: 10ms}
        """,
    )
    result = await process.execute([Document.json({})], connections=connections)
    assert result.execution.error is None, result.execution.error
    assert result.documents[0].body == {"back": True}
    assert state.calls["unavailable"] == 3
    await connections.close()

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "connections.yaml").write_text(
        f"connections:\n  api:\n    connector: http\n    base_url: {url}/api\n    timeout: 300ms\n"
    )
    (tmp_path / "t" / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        "  - http.request:\n"
        "      {connection: api, path: \"'/slow'\", retry: {attempts: 2, backoff: 10ms}}\n"
    )
    processes, configs, problems = load_directory(tmp_path / "t")
    assert problems == []
    connections = Connections(configs)
    started = time.monotonic()
    timed_out = await processes[0].execute([Document.json({})], connections=connections)
    assert time.monotonic() - started < 1.8  # two attempts of 300 ms, then it gives up
    error = timed_out.execution.error
    assert error is not None
    assert "POST /api/slow failed after 2 attempts: TimeoutError" in error.detail
    assert state.calls["slow"] == 2
    await connections.close()


async def test_no_secret_in_answers_records_or_logs(
    upstream: tuple[Upstream, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    aiohttp_client: Callable[..., Awaitable[Any]],
) -> None:
    """Every credential scheme on one connection, a failing upstream, and then every
    place a secret could surface: the caller's answer, the record, the admin API, logs."""
    from runtime.server.app import create_app
    from runtime.server.settings import Settings

    _, url = upstream
    credentials = f"""
        - {{kind: basic, username: wharf, password: "${{env:WHARF_T_PASSWORD}}"}}
        - {{kind: bearer, token: "${{env:WHARF_T_TOKEN}}"}}
        - {{kind: api_key, name: key, value: "${{env:WHARF_T_KEY}}", in: query}}
        - kind: oauth2
          token_url: {url}/oauth/token
          client_id: wharf
          client_secret: "${{env:WHARF_T_CLIENT_SECRET}}"
        - {{kind: hmac, secret: "${{env:WHARF_T_HMAC}}"}}
    """
    build(
        tmp_path,
        url,
        credentials,
        "- http.request:\n"
        "    {connection: api, path: \"'/broken'\", retry: {attempts: 2, backoff: 1ms}}",
    )
    definition = (tmp_path / "p.yaml").read_text()
    (tmp_path / "p.yaml").write_text(definition.replace("name: p\n", "name: p\nrecord: full\n"))
    processes, configs, problems = load_directory(tmp_path)
    assert problems == []
    caplog.set_level(logging.DEBUG)
    client = await admin_client(
        aiohttp_client,
        create_app(
            processes, Settings(admin_key=ADMIN_KEY, store="sqlite://"), connections=configs
        ),
    )
    answer = await client.post("/p", json={"order": 1})
    assert answer.status == 502
    problem = await answer.text()
    record = await (await client.get(f"/api/executions/{answer.headers['X-Execution-Id']}")).text()
    checks = await (await client.post("/api/connections/api/test")).text()
    wharf_log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("wharf"))
    everything = problem + record + checks + wharf_log
    assert "answered 500" in problem
    for secret in SECRETS.values():
        assert secret not in everything, secret


async def test_connection_check_sends_the_declared_request(
    upstream: tuple[Upstream, str], tmp_path: Path
) -> None:
    state, url = upstream
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              good:
                connector: http
                base_url: {url}/api
                verify: {{method: POST, path: /echo, expect: [200]}}
              bad:
                connector: http
                base_url: {url}/api
                verify: {{method: POST, path: /broken}}
            """
        )
    )
    from runtime.server.connection_checks import check_connection

    configs, problems = load_connections(tmp_path)
    assert problems == []
    connections = Connections(configs)
    good, bad = [await check_connection(connections, name) for name in ("good", "bad")]
    await connections.close()
    assert (good.ok, good.detail) == (True, "POST /echo -> 200")
    assert (bad.ok, bad.detail) == (False, "ConnectionError: POST /broken answered 500")
    assert len(state.seen) == 1
