"""RFC 9457 problem details: the one shape of every HTTP error Wharf sends."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from runtime.core.secrets import redact_value

PROBLEM_JSON = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:wharf:problem:{slug}"


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> web.Response:
    if title is None:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail}
    body.update({key: value for key, value in extensions.items() if value is not None})
    body = redact_value(body)  # no resolved secret reaches a caller, whatever the error said
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=PROBLEM_JSON,
        headers=headers,
    )
