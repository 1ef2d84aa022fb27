"""Every admin route, and the OpenAPI document generated from them once.

The declarations in `processes`, `schedules` and `usage` are the one list of admin paths:
`create_app` mounts them from here, and the document describes exactly them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from runtime.formats.codecs import serialize_json
from runtime.server.api import processes, schedules, usage
from runtime.server.api.declaration import AdminRoute, Reply, add_admin_routes
from runtime.server.openapi import build_document


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=serialize_json(openapi_document()), content_type="application/json")


ROUTES: tuple[AdminRoute, ...] = (
    *processes.ROUTES,
    *schedules.ROUTES,
    *usage.ROUTES,
    AdminRoute(
        "GET",
        "/api/openapi.json",
        get_openapi,
        summary="This document",
        replies={200: Reply("OpenAPI document", OpenAPIDocument)},
        operation_id="getOpenAPI",
    ),
)


@cache
def openapi_document() -> dict[str, Any]:
    """Built on the first call (`create_app` makes it at startup); never changes after."""
    return build_document(ROUTES)


def add_routes(app: web.Application) -> None:
    """Mount every admin route behind the admin guard; build the document now, so a bad
    declaration stops the start instead of the first request for it."""
    openapi_document()
    add_admin_routes(app, ROUTES)
