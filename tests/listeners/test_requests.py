"""listeners.requests: request properties and body limits, through the real app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.helpers import Client, ClientFactory, app_client

ECHO = {
    "echo.yaml": """
        name: echo
        trigger:
          http:
            auth: none
            method: POST
            path: /echo/{tenant}/orders/{order_id}
            input: raw
        steps:
          - map:
              fields:
                props: props
                body: doc
    """,
    "small.yaml": """
        name: small
        trigger:
          http: {auth: none, method: POST, path: /small, input: raw, max_body: 10}
        steps:
          - map: {fields: {size: doc | length}}
    """,
}


async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> Client:
    return await app_client(aiohttp_client, tmp_path, ECHO, max_body=1000)


async def echo(client: Client, path: str, **kwargs: Any) -> dict[str, Any]:
    response = await client.post(path, **kwargs)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_request_properties(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    c = await client(aiohttp_client, tmp_path)
    body = await echo(
        c,
        "/echo/acme/orders/A-17?page=2&tag=x&tag=y&empty=",
        data=b"hello",
        headers={"X-Request-Id": "r-1", "X-MiXeD-Case": "Value", "Content-Type": "text/plain"},
    )
    props = body["props"]
    assert body["body"] == "hello"
    assert props["inmethod"] == "POST"
    assert props["inpath"] == "/echo/acme/orders/A-17"
    assert props["inclientaddress"] == "127.0.0.1"
    assert props["param_tenant"] == "acme"
    assert props["param_order_id"] == "A-17"
    assert props["query_page"] == "2"
    assert props["query_tag"] == "x"  # the first of a repeated parameter
    assert props["query_empty"] == ""
    assert props["inheader_x-request-id"] == "r-1"
    assert props["inheader_x-mixed-case"] == "Value"
    assert props["inheader_content-type"] == "text/plain"
    assert "inheader_X-Request-Id" not in props


async def test_path_parameters_are_url_decoded(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    c = await client(aiohttp_client, tmp_path)
    props = (await echo(c, "/echo/a%20b/orders/x%2Fy", data=b"."))["props"]
    assert props["param_tenant"] == "a b"
    assert props["inpath"].startswith("/echo/a b/orders/")


async def test_protected_headers_never_become_properties(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    c = await client(aiohttp_client, tmp_path)
    secret_headers = {
        "Authorization": "Bearer s3cret-token",
        "Proxy-Authorization": "Basic c2VjcmV0",
        "Cookie": "session=s3cret-cookie",
        "X-Forwarded-For": "10.0.0.1",
        "X-Forwarded-Proto": "https",
        "Via": "1.1 proxy",
        "X-Kept": "yes",
    }
    body = await echo(c, "/echo/t/orders/1", data=b"x", headers=secret_headers)
    props = body["props"]
    assert props["inheader_x-kept"] == "yes"
    for name in secret_headers:
        if name != "X-Kept":
            assert f"inheader_{name.lower()}" not in props
    for name in ("host", "connection", "transfer-encoding", "keep-alive", "te", "upgrade"):
        assert f"inheader_{name}" not in props
    text = str(body)
    assert "s3cret" not in text and "c2VjcmV0" not in text


async def test_body_over_the_limit_is_413(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    c = await client(aiohttp_client, tmp_path)
    ok = await c.post("/small", data=b"0123456789")
    assert ok.status == 200
    assert await ok.json() == {"size": 10}
    response = await c.post("/small", data=b"01234567890")
    assert response.status == 413
    assert response.content_type == "application/problem+json"
    assert await response.json() == {
        "type": "urn:wharf:problem:body-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": "the request body is larger than the limit of 10 bytes",
    }
    # The server-wide default applies where the trigger has no max_body.
    default = await c.post("/echo/t/orders/1", data=b"x" * 1001)
    assert default.status == 413
    assert (await default.json())["detail"] == (
        "the request body is larger than the limit of 1000 bytes"
    )


async def test_chunked_body_over_the_limit_is_413(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    c = await client(aiohttp_client, tmp_path)

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total):
            yield b"abc"

    small = await c.post("/small", data=chunks(3))
    assert small.status == 200
    assert await small.json() == {"size": 9}
    big = await c.post("/small", data=chunks(4))
    assert big.status == 413
    assert (await big.json())["type"] == "urn:wharf:problem:body-too-large"
