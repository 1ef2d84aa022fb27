"""Turning an aiohttp request into documents: body limits, content types, properties.

Property names follow the web-services-listener conventions users already know:
`inmethod`, `inpath`, `inclientaddress`, `param_<name>`, `query_<name>` and
`inheader_<name>` (header names lower-cased). Hop-by-hop, proxy and credential headers
are never passed through, so they cannot leak into records.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from runtime.codecs import MalformedBody, parse_json, parse_xml
from runtime.document import Document
from runtime.errors import RequestError

InputKind = Literal["none", "raw", "json", "xml", "form", "json_multiple"]

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

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")
FORM_TYPES = ("application/x-www-form-urlencoded",)


def _accepts(content_type: str, accepted: tuple[str, ...], suffix: str | None) -> bool:
    if content_type in accepted:
        return True
    return suffix is not None and content_type.endswith(suffix)


def request_properties(request: web.Request) -> dict[str, Any]:
    props: dict[str, Any] = {
        "inmethod": request.method,
        "inpath": request.path,
        "inclientaddress": request.remote or "",
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
    """Read the body, refusing it with 413 as soon as it is known to be over `limit`."""
    too_large = RequestError(
        f"the request body is larger than the limit of {limit} bytes",
        status=413,
        problem="body-too-large",
        title="Request body too large",
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _unsupported(content_type: str, expected: str) -> RequestError:
    shown = content_type or "none"
    return RequestError(
        f"this endpoint takes {expected}; the request's Content-Type is {shown}",
        status=415,
        problem="unsupported-media-type",
        title="Unsupported media type",
    )


def _malformed(exc: MalformedBody) -> RequestError:
    return RequestError(exc.detail, status=400, problem=exc.problem, title=exc.title)


def _missing_body(expected: str) -> RequestError:
    return RequestError(
        f"this endpoint needs a {expected} body and the request has none",
        status=400,
        problem="missing-body",
        title="Missing request body",
    )


def documents_from_body(
    kind: InputKind, body: bytes, content_type: str, properties: dict[str, Any]
) -> list[Document]:
    """Build the process's input documents from a request body of the declared kind."""
    if kind == "none":
        if body:
            raise RequestError(
                "this endpoint takes no request body", status=400, problem="unexpected-body"
            )
        return [Document.empty(properties)]
    if kind == "raw":
        return [Document.raw(body, content_type or "application/octet-stream", properties)]
    try:
        if kind in ("json", "json_multiple"):
            if content_type and not _accepts(content_type, JSON_TYPES, "+json"):
                raise _unsupported(content_type, "JSON (application/json)")
            if not body.strip():
                raise _missing_body("JSON")
            value = parse_json(body)
            if kind == "json_multiple" and isinstance(value, list):
                return [Document.json(item, properties) for item in value]
            return [Document.json(value, properties)]
        if kind == "xml":
            if content_type and not _accepts(content_type, XML_TYPES, "+xml"):
                raise _unsupported(content_type, "XML (application/xml or text/xml)")
            if not body.strip():
                raise _missing_body("XML")
            return [Document.xml(parse_xml(body), properties)]
    except MalformedBody as exc:
        raise _malformed(exc) from None
    # form
    if content_type and content_type not in FORM_TYPES:
        raise _unsupported(content_type, "a form (application/x-www-form-urlencoded)")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise RequestError("the form body is not UTF-8", problem="malformed-form") from None
    form: dict[str, Any] = {}
    for name, value in fields:
        form.setdefault(name, value)
    return [Document.json(form, properties)]
