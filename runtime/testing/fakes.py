"""Fake upstreams for `http` connections, answered by a function in the test.

Like httpx's MockTransport, a handler receives the request a step made and returns the
answer. Unlike a mocked transport, the step's real client sends it: the connection's
headers, credentials, timeouts, retries and redirect rules all apply, to a small server
on 127.0.0.1 that calls the handler. `FakeConnections` gives steps such connections by
name; `FakeServer` alone is a listener a test owns (for example one that a process in a
separate server process calls to say "I have started").
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from processes.connectors.http import HttpConnection
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.connections import Connections

HANDLER_FAILED = 599  # the answer when a handler raises; no connector retries it
_ORIGIN = re.compile(r"^[a-z]+://[^/]*", re.IGNORECASE)


@dataclass(frozen=True)
class FakeRequest:
    """What the step sent. `headers` are case-insensitive."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeResponse:
    """An answer with a status and headers; a handler may also return a dict or list
    (JSON), a str (text), bytes, or None (204)."""

    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Answer = FakeResponse | Mapping[str, Any] | list[Any] | str | bytes | None
Handler = Callable[[FakeRequest], Answer | Awaitable[Answer]]


def _response(answer: Answer) -> web.Response:
    if answer is None:
        return web.Response(status=204)
    if isinstance(answer, bytes):
        return web.Response(body=answer, content_type="application/octet-stream")
    if isinstance(answer, str):
        return web.Response(text=answer)
    if not isinstance(answer, FakeResponse):
        return web.json_response(answer)
    headers = dict(answer.headers)
    if answer.json is not None:
        return web.json_response(answer.json, status=answer.status, headers=headers)
    body = answer.body.encode() if isinstance(answer.body, str) else answer.body
    return web.Response(status=answer.status, body=body, headers=headers)


class FakeServer:
    """An HTTP server on 127.0.0.1 whose every request is answered by `handler`.

    `requests` lists what arrived; a handler that raises answers 599 and its exception is
    raised again by `close()`, so a failed assertion inside a handler fails the test."""

    def __init__(self, handler: Handler, requests: list[FakeRequest] | None = None) -> None:
        self.handler = handler
        self.requests: list[FakeRequest] = [] if requests is None else requests
        self.errors: list[BaseException] = []
        self.url = ""
        self._runner: web.ServerRunner | None = None

    async def start(self) -> FakeServer:
        runner = web.ServerRunner(web.Server(self._serve), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self.errors:
            error, self.errors = self.errors[0], []
            raise error

    async def __aenter__(self) -> FakeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        fake = FakeRequest(
            request.method, request.path, request.query, request.headers, await request.read()
        )
        self.requests.append(fake)
        try:
            answer = self.handler(fake)
            if inspect.isawaitable(answer):
                answer = await answer
            return _response(answer)
        except Exception as exc:
            self.errors.append(exc)
            return web.Response(status=HANDLER_FAILED, text=f"fake handler failed: {exc!r}")


class FakeConnections(Connections):
    """Connections for steps: each name maps to a handler (a fake `http` connection) or to
    a real connection config (e.g. an `sql` one on a temporary SQLite file).

    `like` gives the real configs of faked names (from `load_connections`): their headers,
    credentials and base path are kept, only the origin becomes the fake server's. Each
    name's requests are in `requests[name]`, across runs."""

    def __init__(
        self,
        fakes: Mapping[str, Handler | ConnectionConfig],
        *,
        like: Mapping[str, ConnectionConfig] | None = None,
    ) -> None:
        super().__init__({n: f for n, f in fakes.items() if isinstance(f, ConnectionConfig)})
        self.handlers = {n: f for n, f in fakes.items() if not isinstance(f, ConnectionConfig)}
        self.like = dict(like or {})
        self.requests: dict[str, list[FakeRequest]] = {name: [] for name in self.handlers}
        self._servers: dict[str, FakeServer] = {}
        self._starting = asyncio.Lock()

    def declared(self) -> dict[str, ConnectionConfig]:
        """Every connection by name, for the load-time check of steps that name one."""
        fake = {name: self._http_config(name, "http://fake.invalid") for name in self.handlers}
        return {**fake, **self.configs}

    async def client(self, name: str) -> ConnectionClient:
        if name in self.handlers and name not in self._servers:
            async with self._starting:
                if name not in self._servers:
                    server = FakeServer(self.handlers[name], self.requests[name])
                    self._servers[name] = await server.start()
                    self.configs[name] = self._http_config(name, server.url)
        return await super().client(name)

    async def close(self) -> None:
        """Close the clients and servers (the next use starts them again); raise the
        first exception a handler raised."""
        await super().close()
        servers, self._servers = self._servers, {}
        errors: list[BaseException] = []
        for name, server in servers.items():
            del self.configs[name]
            try:
                await server.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _http_config(self, name: str, origin: str) -> HttpConnection:
        template = self.like.get(name)
        if template is None:
            return HttpConnection.model_validate({"connector": "http", "base_url": origin})
        if not isinstance(template, HttpConnection):
            raise TypeError(f"connection {name!r}: only http connections can be faked")
        path = _ORIGIN.sub("", template.base_url)
        return template.model_copy(update={"base_url": origin + path})
