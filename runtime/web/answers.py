"""Turning an execution's result into the HTTP answer.

The first document's `outstatuscode` property sets the status and its
`outheader_<Name>` properties add headers, as in the web-services-listener convention.
A failed execution answers a problem body naming the execution, never a traceback.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web
from lxml import etree

from runtime.core.document import BodyKind, Document
from runtime.core.errors import WharfError
from runtime.core.expressions import variables
from runtime.core.response_config import ResponseConfig
from runtime.formats.codecs import serialize_json, serialize_xml
from runtime.web.problems import problem_response

if TYPE_CHECKING:
    from runtime.core.engine import ExecutionResult

EXECUTION_HEADER = "X-Execution-Id"
# Header names or values with control characters (CR, LF, NUL...) are dropped, never sent.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Headers a process may not set: framing and connection management belong to the server.
UNSETTABLE_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}
)


def _body_bytes(document: Document) -> bytes:
    match document.kind:
        case BodyKind.JSON:
            return serialize_json(document.body)
        case BodyKind.XML:
            return serialize_xml(document.body)
        case BodyKind.TEXT:
            return bytes(document.body.encode("utf-8"))
        case BodyKind.RAW:
            return bytes(document.body)
    return b""


def _combined(documents: list[Document], multiple: str) -> tuple[bytes, str]:
    """Body and media type for several documents."""
    first = documents[0]
    if multiple == "first" or len(documents) == 1:
        return _body_bytes(first), first.media_type
    kinds = {doc.kind for doc in documents}
    if multiple == "array" and kinds == {BodyKind.JSON}:
        return serialize_json([doc.body for doc in documents]), "application/json"
    if multiple == "array" and kinds == {BodyKind.XML}:
        wrapper = etree.Element("Response")
        wrapper.extend(doc.body for doc in documents)
        return serialize_xml(wrapper), "application/xml"
    return b"".join(_body_bytes(doc) for doc in documents), first.media_type


def _status(document: Document, default: int) -> int:
    value = document.properties.get("outstatuscode")
    if value is None:
        return default
    try:
        status = int(value)
    except (TypeError, ValueError):
        return default
    return status if 200 <= status <= 599 else default


def _headers(document: Document, config: ResponseConfig) -> dict[str, str]:
    headers: dict[str, str] = {}
    if config.headers:
        names = variables(document)
        for name, value in config.headers.items():
            headers[name] = str(value.evaluate(names))
    for key, value in document.properties.items():
        if key.startswith("outheader_") and value is not None:
            headers[key.removeprefix("outheader_")] = str(value)
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in UNSETTABLE_HEADERS and not _CONTROL.search(name + value)
    }


def failure_response(result: ExecutionResult) -> web.Response:
    execution = result.execution
    error = execution.error
    assert error is not None
    root = error.root
    if isinstance(root, WharfError):
        slug, detail = root.problem, root.detail
    else:  # unexpected: the details stay in the server log
        slug, detail = "step-failed", f"a step failed unexpectedly; see execution {execution.id}"
    return problem_response(
        error.status,
        detail,
        slug=slug,
        title=error.title,
        headers={EXECUTION_HEADER: execution.id},
        execution_id=execution.id,
        step=error.step_path,
    )


def execution_response(result: ExecutionResult, config: ResponseConfig) -> web.Response:
    if result.execution.error is not None:
        return failure_response(result)
    documents = result.documents
    execution_id: dict[str, Any] = {EXECUTION_HEADER: result.execution.id}
    if not documents:
        return web.Response(status=config.empty_status, headers=execution_id)
    first = documents[0]
    body, media_type = _combined(documents, config.multiple)
    headers = _headers(first, config) | execution_id
    media_type = config.media_type or media_type or "application/octet-stream"
    if "content-type" not in {name.lower() for name in headers}:
        charset = "; charset=utf-8" if media_type.startswith("text/") else ""
        headers["Content-Type"] = media_type + charset
    status = _status(first, config.status)
    return web.Response(
        status=status, body=body if status not in (204, 304) else None, headers=headers
    )


def status_link(execution_id: str) -> str:
    return f"/api/executions/{execution_id}"


def accepted_response(execution_id: str, *, duplicate: bool = False) -> web.Response:
    """202 for a request that is durably accepted (or was already, for a duplicate)."""
    link = status_link(execution_id)
    headers = {
        "Location": link,
        EXECUTION_HEADER: execution_id,
        "X-Execution-Status-Link": link,
    }
    if duplicate:
        headers["X-Idempotent-Replay"] = "true"
    body = {"execution_id": execution_id, "status_url": link, "duplicate": duplicate}
    return web.Response(
        status=202, body=serialize_json(body), content_type="application/json", headers=headers
    )
