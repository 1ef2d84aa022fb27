"""The http connector keeps a connection's requests where they belong: caller values stay
segments under the base path, redirects are answers unless same-origin ones are asked
for, and credentials never reach another origin. Real aiohttp upstreams record what they
were sent."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.connections import load_connections
from runtime.loading.loader import load_directory
from runtime.server.connection_checks import check_connection

API_KEY = "api-key-51515-secret"
ServerFactory = Callable[..., Awaitable[TestServer]]


class Recorder:
    """An upstream that records the raw path and headers of every request it gets."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.redirect_to = ""

    async def any(self, request: web.Request) -> web.Response:
        self.seen.append((request.raw_path, dict(request.headers)))
        tail = request.match_info["tail"]
        if tail.endswith("away"):
            raise web.HTTPFound(self.redirect_to)
        if tail.endswith("here"):
            raise web.HTTPFound("/api/v1/landing")
        if tail.endswith("loop"):
            raise web.HTTPFound(request.path)
        if tail.endswith("down"):
            return web.json_response({"down": True}, status=503)
        if tail.endswith("locked"):
            return web.json_response({"error": "login"}, status=401)
        return web.json_response({"path": request.raw_path})


async def recorder(aiohttp_server: ServerFactory) -> tuple[Recorder, str]:
    state = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.any)
    server = await aiohttp_server(app)
    return state, f"http://127.0.0.1:{server.port}"


KEY_HEADER = """
credentials:
  - {kind: api_key, name: X-Api-Key, value: "${env:WHARF_T_API_KEY}"}
"""


def build(
    tmp_path: Path, base_url: str, steps: str, extra: str = "", credentials: str = KEY_HEADER
) -> tuple[Any, Connections]:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "connections.yaml").write_text(
        f"connections:\n  api:\n    connector: http\n    base_url: {base_url}/api/v1\n"
        + textwrap.indent(textwrap.dedent(credentials), "    ")
        + textwrap.indent(textwrap.dedent(extra), "    ")
    )
    (tmp_path / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
    )
    processes, configs, problems = load_directory(tmp_path)
    assert problems == [], problems
    return processes[0], Connections(configs)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHARF_T_API_KEY", API_KEY)


async def call(process: Any, connections: Connections, body: dict[str, Any]) -> Any:
    return await process.execute([Document.json(body)], connections=connections)


@pytest.mark.parametrize(
    "value",
    ["../../admin", "..", "a/../../admin", "./admin", "x/./y", "orders/.."],
)
async def test_dot_segments_from_an_expression_are_refused(
    aiohttp_server: ServerFactory, tmp_path: Path, value: str
) -> None:
    state, url = await recorder(aiohttp_server)
    process, connections = build(
        tmp_path, url, "- http.request: {connection: api, method: GET, path: doc.p}"
    )
    result = await call(process, connections, {"p": value})
    await connections.close()
    error = result.execution.error
    assert error is not None, value
    assert (error.problem, error.status) == ("path-refused", 400)
    assert state.seen == []  # nothing reached the upstream


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("orders/7", "/api/v1/orders/7"),
        ("%2e%2e/%2e%2e/admin", "/api/v1/%252e%252e/%252e%252e/admin"),
        ("a b?c#d", "/api/v1/a%20b%3Fc%23d"),
    ],
)
async def test_expression_paths_are_encoded_segments(
    aiohttp_server: ServerFactory, tmp_path: Path, value: str, sent: str
) -> None:
    state, url = await recorder(aiohttp_server)
    process, connections = build(
        tmp_path, url, "- http.request: {connection: api, method: GET, path: doc.p}"
    )
    result = await call(process, connections, {"p": value})
    await connections.close()
    assert result.execution.error is None, result.execution.error
    assert [path for path, _ in state.seen] == [sent]


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("../../admin", "/api/v1/items/..%2F..%2Fadmin"),
        ("a/b", "/api/v1/items/a%2Fb"),
        ("%2e%2e", "/api/v1/items/%252e%252e"),
        ("7", "/api/v1/items/7"),
    ],
)
async def test_template_values_are_single_segments(
    aiohttp_server: ServerFactory, tmp_path: Path, value: str, sent: str
) -> None:
    state, url = await recorder(aiohttp_server)
    process, connections = build(
        tmp_path,
        url,
        '- http.request: {connection: api, method: GET, path: "/items/{{ doc.id }}"}',
    )
    result = await call(process, connections, {"id": value})
    assert result.execution.error is None, result.execution.error
    assert [path for path, _ in state.seen] == [sent]
    for refused in ("..", ".", ""):
        result = await call(process, connections, {"id": refused})
        assert result.execution.error is not None, refused
        assert result.execution.error.problem == "path-refused"
    assert len(state.seen) == 1
    await connections.close()


async def two_origins(aiohttp_server: ServerFactory) -> tuple[Recorder, str, Recorder, str]:
    """An upstream whose `/away` redirects to a second server on another port."""
    first, first_url = await recorder(aiohttp_server)
    second, second_url = await recorder(aiohttp_server)
    first.redirect_to = f"{second_url}/steal"
    return first, first_url, second, second_url


async def test_redirects_are_answers_by_default(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    first, url, second, _ = await two_origins(aiohttp_server)
    process, connections = build(
        tmp_path,
        url,
        "- http.request: {connection: api, method: GET, path: doc.p, fail_on_status: false}",
    )
    away = await call(process, connections, {"p": "away"})
    here = await call(process, connections, {"p": "here"})
    await connections.close()
    assert away.execution.error is None and here.execution.error is None
    assert away.documents[0].properties["http_status"] == 302
    assert here.documents[0].properties["http_status"] == 302
    assert second.seen == []
    assert [path for path, _ in first.seen] == ["/api/v1/away", "/api/v1/here"]


async def test_same_origin_redirects_keep_credentials_at_home(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    first, url, second, _ = await two_origins(aiohttp_server)
    process, connections = build(
        tmp_path,
        url,
        "- http.request: {connection: api, method: POST, path: doc.p, fail_on_status: false}",
        extra="follow_redirects: same-origin\n",
    )
    here = await call(process, connections, {"p": "here"})
    away = await call(process, connections, {"p": "away"})
    loop = await call(process, connections, {"p": "loop"})
    await connections.close()
    assert here.execution.error is None, here.execution.error
    assert here.documents[0].body == {"path": "/api/v1/landing"}  # followed, as a GET
    landing = first.seen[1]
    assert landing[0] == "/api/v1/landing" and landing[1]["X-Api-Key"] == API_KEY
    assert away.documents[0].properties["http_status"] == 302  # another origin: not followed
    assert second.seen == []
    assert loop.documents[0].properties["http_status"] == 302
    loops = [path for path, _ in first.seen if path.endswith("loop")]
    assert len(loops) == 6  # the request and five redirects, then the 3xx is the answer


async def test_oauth_token_request_does_not_follow_redirects(
    aiohttp_server: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url, second, _ = await two_origins(aiohttp_server)
    monkeypatch.setenv("WHARF_T_CLIENT_SECRET", "client-secret-31337")
    process, connections = build(
        tmp_path,
        url,
        "- http.request: {connection: api, method: GET, path: doc.p}",
        extra="follow_redirects: same-origin\n",
        credentials=f"""
        credentials:
          - kind: oauth2
            token_url: {url}/oauth/away
            client_id: wharf
            client_secret: "${{env:WHARF_T_CLIENT_SECRET}}"
        """,
    )
    result = await call(process, connections, {"p": "orders"})
    await connections.close()
    assert result.execution.error is not None
    assert second.seen == []


async def test_connection_check_uses_health_path_and_any_answer_below_500(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    state, url = await recorder(aiohttp_server)
    (tmp_path / "connections.yaml").write_text(
        "connections:\n"
        f"  locked:\n    connector: http\n    base_url: {url}/api/v1\n    health_path: /locked\n"
        f"  down:\n    connector: http\n    base_url: {url}/api/v1\n    health_path: /down\n"
    )
    configs, problems = load_connections(tmp_path)
    assert problems == []
    connections = Connections(configs, checking=True)
    locked = await check_connection(connections, "locked")
    down = await check_connection(connections, "down")
    await connections.close()
    assert (locked.ok, locked.detail) == (True, "GET /locked -> 401")
    assert (down.ok, down.detail) == (False, "ConnectionError: GET /down answered 503")
    assert [path for path, _ in state.seen] == ["/api/v1/locked", "/api/v1/down"]


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "bell\x07"])
async def test_caller_values_cannot_inject_headers(
    aiohttp_server: ServerFactory, tmp_path: Path, value: str
) -> None:
    """A header value with a line break is bad input (400 `header-refused`), never sent and
    never an internal error; query values are percent-encoded."""
    state, url = await recorder(aiohttp_server)
    process, connections = build(
        tmp_path,
        url,
        "- http.request: {connection: api, method: GET, path: \"'/x'\", "
        "headers: {X-Name: doc.n}, query: {q: doc.n}}",
    )
    result = await call(process, connections, {"n": value})
    error = result.execution.error
    assert error is not None
    assert (error.problem, error.status) == ("header-refused", 400), error
    assert state.seen == []
    result = await call(process, connections, {"n": "tab\there"})  # a tab is allowed
    await connections.close()
    assert result.execution.error is None, result.execution.error
    assert state.seen[-1][1]["X-Name"] == "tab\there"
