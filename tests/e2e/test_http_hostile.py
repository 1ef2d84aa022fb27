"""Malformed and adversarial HTTP requests against the real server: each gets its
documented 4xx, and the server keeps answering good requests."""

from __future__ import annotations

import asyncio
import re
import textwrap
from collections.abc import Iterator

import aiohttp
import pytest

from tests.serverproc import ADMIN_KEY, WharfServer

pytestmark = pytest.mark.e2e

PROCESSES = {
    "echo.yaml": """
        name: echo
        trigger: {http: {auth: none, method: POST, path: /echo, input: json, max_body: 1024}}
        steps:
          - map: {fields: {got: doc}}
    """,
    "xml.yaml": """
        name: xml-in
        trigger: {http: {auth: none, method: POST, path: /xml, input: xml}}
        steps:
          - map: {fields: {root: xpath('local-name(/*)')}}
    """,
    "form.yaml": """
        name: form-in
        trigger: {http: {auth: none, method: POST, path: /form, input: form}}
    """,
    "none.yaml": """
        name: ping
        trigger: {http: {auth: none, method: GET, path: /ping, input: none}}
        steps:
          - map: {fields: {pong: true}}
    """,
    "many.yaml": """
        name: many
        trigger: {http: {auth: none, method: POST, path: /many, input: json_multiple}}
        steps:
          - map: {fields: {n: doc.n}}
    """,
    "fragile.yaml": """
        name: fragile
        trigger: {http: {auth: none, method: POST, path: /fragile, input: json}}
        steps:
          - map: {fields: {total: doc.amount * 2}}
    """,
}

ENTITIES = "".join(f'<!ENTITY b{i} "{f"&b{i - 1};" * 10}">' for i in range(1, 8))
BOMB = f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b0 "bbbbbbbbbb">{ENTITIES}]><a>&b7;</a>'

# (name, method, path, headers, body, expected status)
CASES: list[tuple[str, str, str, dict[str, str], bytes, int]] = [
    ("broken json", "POST", "/echo", {"Content-Type": "application/json"}, b'{"a": ', 400),
    ("trailing garbage", "POST", "/echo", {"Content-Type": "application/json"}, b'{"a": 1} x', 400),
    ("invalid utf-8 json", "POST", "/echo", {"Content-Type": "application/json"}, b'{"a": "\xff\xfe"}', 400),
    ("empty json body", "POST", "/echo", {"Content-Type": "application/json"}, b"", 400),
    ("json as text/plain", "POST", "/echo", {"Content-Type": "text/plain"}, b'{"a": 1}', 415),
    ("json as form", "POST", "/echo", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=1", 415),
    ("json nested 100000 deep", "POST", "/many", {"Content-Type": "application/json"}, b"[" * 100_000 + b"]" * 100_000, 400),
    ("json nested 2000 deep", "POST", "/many", {"Content-Type": "application/json"}, b"[" * 2000 + b"]" * 2000, 400),
    ("body over max_body", "POST", "/echo", {"Content-Type": "application/json"}, b'{"a": "' + b"x" * 5000 + b'"}', 413),
    ("broken xml", "POST", "/xml", {"Content-Type": "application/xml"}, b"<a><b></a>", 400),
    ("xml external entity", "POST", "/xml", {"Content-Type": "application/xml"}, b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', 400),
    ("xml entity bomb", "POST", "/xml", {"Content-Type": "application/xml"}, BOMB.encode(), 400),
    ("xml nested 5000 deep", "POST", "/xml", {"Content-Type": "application/xml"}, b"<a>" * 5000 + b"</a>" * 5000, 400),
    ("xml as json", "POST", "/xml", {"Content-Type": "application/json"}, b"<a/>", 415),
    ("form with json type", "POST", "/form", {"Content-Type": "application/json"}, b'{"a": 1}', 415),
    ("form with invalid utf-8", "POST", "/form", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=%ff%fe&b=\xff", 400),
    ("body to input none", "GET", "/ping", {"Content-Type": "text/plain"}, b"surprise", 400),
    ("null bytes", "POST", "/echo", {"Content-Type": "application/json"}, b'{"a\x00": 1\x00}', 400),
    ("unknown path", "GET", "/nowhere", {}, b"", 404),
    ("wrong method", "DELETE", "/echo", {}, b"", 405),
    ("undefined field in a step", "POST", "/fragile", {"Content-Type": "application/json"}, b'{"n": 1}', 500),
    ("admin api wrong limit", "GET", "/api/executions?limit=0", {"X-API-Key": ADMIN_KEY}, b"", 400),
    ("admin api without a key", "GET", "/api/executions", {}, b"", 401),
    ("admin api with a wrong key", "GET", "/api/executions", {"X-API-Key": "wharf_00_x"}, b"", 401),
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfServer]:
    directory = tmp_path_factory.mktemp("hostile")
    for name, text in PROCESSES.items():
        (directory / name).write_text(textwrap.dedent(text))
    with WharfServer(directory, "--max-body", str(1024 * 1024)) as running:
        yield running


async def raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


async def test_hostile_requests_get_documented_answers(server: WharfServer) -> None:
    async with aiohttp.ClientSession() as session:
        for name, method, path, headers, body, status in CASES:
            async with session.request(method, server.url + path, headers=headers, data=body) as r:
                text = await r.text(errors="replace")
                assert r.status == status, (name, text[:300])
                assert r.content_type == "application/problem+json", name
                problem = await r.json(content_type=None)
                assert problem["status"] == status, name
                assert problem["type"].startswith("urn:wharf:problem:"), name
                assert problem["title"] and problem["detail"], name
                assert "Traceback" not in text, name
                if status == 405:
                    assert r.headers["Allow"] == "POST", name
                if name == "undefined field in a step":
                    assert problem["execution_id"] and problem["step"] == "steps[0].map"

        # Chunked bodies have no Content-Length: refused once past the limit.
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"x" * 1000

        async with session.post(
            server.url + "/echo", data=chunks(), headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 413
            assert (await r.json(content_type=None))["type"] == "urn:wharf:problem:body-too-large"

    # Below HTTP: aiohttp's parser answers plain 400s and closes the connection.
    huge_header = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    bogus_method = b"FR\x00B /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    bad_chunking = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n"
    many_headers = (
        b"GET /ping HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(500))
        + b"\r\n"
    )
    for raw in (huge_header, bogus_method, bad_chunking, many_headers):
        answer = await raw_exchange(server.port, raw)
        status_line = answer.split(b"\r\n", 1)[0]
        assert re.match(rb"HTTP/1\.[01] 4\d\d ", status_line), status_line
        assert b"Traceback" not in answer

    # After all of that, good requests are served.
    async with aiohttp.ClientSession() as session:
        async with session.post(server.url + "/echo", json={"ok": [1, 2]}) as r:
            assert r.status == 200
            assert await r.json() == {"got": {"ok": [1, 2]}}
        async with session.post(server.url + "/many", json=[{"n": 1}, {"n": 2}]) as r:
            assert await r.json() == [{"n": 1}, {"n": 2}]
        async with session.get(server.url + "/ping") as r:
            assert await r.json() == {"pong": True}
        async with session.get(server.url + "/healthz") as r:
            assert r.status == 200 and await r.json() == {"status": "ok"}
