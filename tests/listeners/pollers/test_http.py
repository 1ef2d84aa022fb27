"""`http.poll` against a real aiohttp server that honours ETags, fired through the real
scheduler of a running app."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.loading.loader import validate_directory
from runtime.server.state import RuntimeState
from tests.helpers import ClientFactory
from tests.listeners.pollers.test_sql import bodies, execution, fire, start

TOKEN = "poll-token-31415"
API_KEY = "query-key-27182"
LAST_MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class Feed:
    """Serves `body` with an ETag that changes with it; 304 to a matching If-None-Match."""

    def __init__(self) -> None:
        self.body: Any = {"orders": [{"id": "A-1"}]}
        self.version = 1
        self.status = 200
        self.raw: tuple[bytes, str] | None = None
        self.requests: list[dict[str, str]] = []

    def change(self, body: Any) -> None:
        self.body, self.version = body, self.version + 1

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.status != 200:
            return web.json_response({"error": "database down"}, status=self.status)
        etag = f'"v{self.version}"'
        validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=validators)
        if self.raw is not None:
            data, content_type = self.raw
            return web.Response(body=data, content_type=content_type, headers=validators)
        return web.json_response(self.body, headers={**validators, "X-Feed": "orders"})


@pytest.fixture
async def feed(aiohttp_server: ServerFactory) -> tuple[Feed, str]:
    served = Feed()
    app = web.Application()
    app.router.add_get("/api/feed", served.handle)
    server = await aiohttp_server(app)
    return served, str(server.make_url("/api")).rstrip("/")


def poller(
    directory: Path, base_url: str, trigger: str, steps: str = "- map: {fields: {n: 1}}"
) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              api:
                connector: http
                base_url: {base_url}
                credentials: [{{kind: bearer, token: '${{env:WHARF_T_POLL_TOKEN}}'}}]
            """
        )
    )
    (directory / "feed.yaml").write_text(
        "name: orders-poll\nrecord: full\ntrigger:\n  http.poll:\n"
        + textwrap.indent(textwrap.dedent(trigger).strip("\n"), "    ")
        + "\n    cron: '0 0 1 1 *'\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ")
        + "\n"
    )
    return directory


async def running(
    aiohttp_client: ClientFactory, directory: Path, monkeypatch: pytest.MonkeyPatch
) -> RuntimeState:
    monkeypatch.setenv("WHARF_T_POLL_TOKEN", TOKEN)
    monkeypatch.setenv("WHARF_T_POLL_KEY", API_KEY)
    _, state = await start(aiohttp_client, directory)
    return state


async def test_conditional_polling_runs_only_on_change(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    directory = poller(tmp_path / "p", base, "connection: api\npath: /feed")
    state = await running(aiohttp_client, directory, monkeypatch)

    first = await fire(state)
    assert (first.status, first.executions) == ("succeeded", 1)
    record = await execution(state, first.execution_id)
    assert record.trigger == "poll"
    assert bodies(record) == [{"orders": [{"id": "A-1"}]}]
    assert record.input is not None
    properties = record.input[0]["properties"]
    assert properties["http_status"] == 200
    assert properties["http_etag"] == '"v1"'
    assert properties["http_header_x-feed"] == "orders"
    assert properties["http_header_last-modified"] == LAST_MODIFIED
    assert served.requests[0]["Authorization"] == f"Bearer {TOKEN}"
    assert "If-None-Match" not in served.requests[0]
    stored = await state.store.poller_value("orders-poll", "validators")
    assert (stored["etag"], stored["last_modified"]) == ('"v1"', LAST_MODIFIED)

    unchanged = await fire(state)
    assert (unchanged.status, unchanged.executions) == ("idle", 0)
    assert served.requests[1]["If-None-Match"] == '"v1"'
    assert served.requests[1]["If-Modified-Since"] == LAST_MODIFIED

    served.change({"orders": [{"id": "A-2"}]})
    changed = await fire(state)
    assert (changed.status, changed.executions) == ("succeeded", 1)
    assert bodies(await execution(state, changed.execution_id)) == [{"orders": [{"id": "A-2"}]}]
    assert (await fire(state)).status == "idle"
    assert [r.get("If-None-Match") for r in served.requests] == [None, '"v1"', '"v1"', '"v2"']


async def test_a_failed_execution_gets_the_same_content_again(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    served.body = {"orders": [], "broken": True}
    steps = """
        - route:
            routes:
              - when: doc.broken
                steps: [{fail: {title: Broken feed}}]
    """
    state = await running(
        aiohttp_client,
        poller(tmp_path / "p", base, "connection: api\npath: /feed", steps),
        monkeypatch,
    )
    failed = await fire(state)
    assert (failed.status, failed.executions) == ("failed", 1)
    assert failed.error is not None and "Broken feed" in failed.error["message"]
    assert await state.store.poller_value("orders-poll", "validators") is None

    again = await fire(state)  # nothing remembered: no conditional request, the run repeats
    assert "If-None-Match" not in served.requests[1]
    assert (again.status, again.executions) == ("failed", 1)

    served.body = {
        "orders": [],
        "broken": False,
    }  # same ETag version: the fixed content is still new to us
    fixed = await fire(state)
    assert fixed.status == "succeeded"
    assert (await fire(state)).status == "idle"


async def test_an_error_status_fails_the_fire_without_secrets(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    state = await running(
        aiohttp_client, poller(tmp_path / "p", base, "connection: api\npath: /feed"), monkeypatch
    )
    assert (await fire(state)).status == "succeeded"
    served.status = 500
    failed = await fire(state)
    assert (failed.status, failed.executions, failed.execution_id) == ("failed", 0, None)
    assert failed.error == {
        "type": "HttpPollError",
        "message": f"GET {base}/feed answered 500",
    }
    assert served.requests[-1]["Authorization"] == f"Bearer {TOKEN}"
    # The validators of the last success are kept: once the server is back, 304 again.
    served.status = 200
    assert (await fire(state)).status == "idle"


async def test_a_plain_url_and_a_network_error_keep_the_key_out_of_messages(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    trigger = f"url: '{base}/feed?key=${{env:WHARF_T_POLL_KEY}}'\nheaders: {{X-Tenant: acme}}"
    state = await running(aiohttp_client, poller(tmp_path / "p", base, trigger), monkeypatch)
    assert (await fire(state)).status == "succeeded"
    assert served.requests[0]["X-Tenant"] == "acme"
    assert "Authorization" not in served.requests[0]  # no connection, no credentials

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"url: 'http://127.0.0.1:{port}/feed?key=${{env:WHARF_T_POLL_KEY}}'"
    state = await running(aiohttp_client, poller(tmp_path / "q", base, closed), monkeypatch)
    failed = await fire(state)
    assert failed.status == "failed" and failed.error is not None
    message = failed.error["message"]
    assert message.startswith(f"GET http://127.0.0.1:{port}/feed failed: ClientConnectorError")
    assert API_KEY not in message and "key=" not in message


@pytest.mark.parametrize(
    ("kind", "served_as", "expected"),
    [
        ("xml", "text/plain", "<order><id>A-1</id></order>"),
        ("text", "text/csv", "id\nA-1\n"),
        ("raw", "application/pdf", "aWQKQS0xCg=="),  # base64 of the bytes in the record
    ],
)
async def test_input_kinds(
    kind: str,
    served_as: str,
    expected: str,
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    served.raw = (b"id\nA-1\n" if kind != "xml" else expected.encode(), served_as)
    trigger = f"connection: api\npath: /feed\ninput: {kind}"
    state = await running(aiohttp_client, poller(tmp_path / "p", base, trigger, "[]"), monkeypatch)
    record = await execution(state, (await fire(state)).execution_id)
    assert record.input is not None
    assert (record.input[0]["kind"], record.input[0]["body"]) == (kind, expected)
    assert record.input[0]["media_type"] == (served_as if kind != "xml" else "application/xml")


async def test_a_body_that_does_not_parse_fails_the_fire(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    served.raw = (b"{not json", "application/json")
    state = await running(
        aiohttp_client, poller(tmp_path / "p", base, "connection: api\npath: /feed"), monkeypatch
    )
    failed = await fire(state)
    assert (failed.status, failed.executions) == ("failed", 0)
    assert failed.error is not None
    assert failed.error["message"].startswith(f"GET {base}/feed: the response is not usable: ")


def test_load_time_checks(tmp_path: Path) -> None:
    directory = poller(tmp_path / "p", "https://example.com", "connection: api\npath: /x")
    (directory / "connections.yaml").write_text(
        directory.joinpath("connections.yaml").read_text()
        + "  db: {connector: sql, url: 'sqlite+aiosqlite:///x.db'}\n"
    )
    cases = {
        "both": ("connection: api\nurl: https://example.com/x", "exactly one of `connection`"),
        "neither": ("path: /x", "exactly one of `connection`"),
        "sql": ("connection: db", "'db' is not a http connection"),
        "path-with-url": ("url: https://example.com\npath: /x", "`path` goes with `connection`"),
        "ftp-url": ("url: ftp://example.com/x", "url starts with http:// or https://"),
    }
    for name, (trigger, _) in cases.items():
        (directory / f"{name}.yaml").write_text(
            f"name: {name}\ntrigger:\n  http.poll:\n"
            + textwrap.indent(trigger, "    ")
            + "\n    every: 1h\nsteps: []\n"
        )
    _, problems = validate_directory(directory)
    messages = {Path(p.file).stem: str(p) for p in problems}
    assert set(messages) == set(cases)
    for name, (_, expected) in cases.items():
        assert expected in messages[name], messages[name]


async def test_a_response_over_max_body_fails_the_fire(
    feed: tuple[Feed, str],
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base = feed
    trigger = "connection: api\npath: /feed\nmax_body: 64"
    state = await running(aiohttp_client, poller(tmp_path / "p", base, trigger), monkeypatch)
    served.change({"orders": [{"id": f"A-{n}"} for n in range(20)]})
    failed = await fire(state)
    assert (failed.status, failed.executions) == ("failed", 0)
    assert failed.error == {
        "type": "HttpPollError",
        "message": f"GET {base}/feed: the response body is over max_body (64 bytes)",
    }
    served.change({"orders": []})  # small again: it runs
    assert (await fire(state)).status == "succeeded"
