"""Reading an aiohttp request: body limits and request properties.

Property names follow the web-services-listener conventions users already know:
`inmethod`, `inpath`, `inclientaddress`, `param_<name>`, `query_<name>` and
`inheader_<name>` (header names lower-cased). Hop-by-hop, proxy and credential headers
are never passed through, so they cannot leak into records.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runtime.core.errors import ClientGone, RequestError
from runtime.security.clients import client_ip

PROTECTED_HEADERS = frozenset(
    {
        "connection",
        "upgrade",
        "via",
        "host",
        "proxy-authorization",
        "proxy-connection",
        "x-forwarded-for",
        "x-forwarded-proto",
        "authorization",
        "cookie",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
    }
)


def request_properties(request: web.Request) -> dict[str, Any]:
    props: dict[str, Any] = {
        "inmethod": request.method,
        "inpath": request.path,
        "inclientaddress": client_ip(request),
    }
    for name, value in request.match_info.items():
        props[f"param_{name}"] = value
    for name, value in request.query.items():
        props.setdefault(f"query_{name}", value)  # first value of a repeated parameter wins
    for name, value in request.headers.items():
        lower = name.lower()
        if lower not in PROTECTED_HEADERS:
            props.setdefault(f"inheader_{lower}", value)
    return props


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing it with 413 as soon as it is known to be over `limit`; a
    caller that goes away meanwhile is `ClientGone`."""
    try:
        return await _read_body(request, limit)
    except ConnectionError:
        raise ClientGone("the client closed the connection while sending the body") from None


async def _read_body(request: web.Request, limit: int) -> bytes:
    too_large = RequestError(
        f"the request body is larger than the limit of {limit} bytes",
        status=413,
        problem="body-too-large",
        title="Request body too large",
    )
    length = request.content_length
    if length is not None:
        if length > limit:
            raise too_large
        return await request.content.readexactly(length) if length else b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
