"""`GET /api/usage` (per listener or caller, from memory) and `GET /metrics` (Prometheus).

The recorder and the metrics live on the app under the keys below. `/api/usage` is mounted
by its declaration (`ROUTES`), like every admin route; the app mounts `/metrics` itself, open
or behind the admin guard as security.yaml says. Either way bad queries answer problems.
"""

from __future__ import annotations

from datetime import datetime
from typing import get_args

import orjson
from aiohttp import web
from pydantic import BaseModel, Field

from runtime.core.errors import RequestError
from runtime.core.timestamps import iso_utc, parse_time
from runtime.server.api.declaration import AdminRoute, Reply, optional
from runtime.traffic.metrics import Metrics
from runtime.traffic.usage import DEFAULT_SPAN, Grouping, UsageRecorder

USAGE = web.AppKey("wharf_usage", UsageRecorder)
METRICS = web.AppKey("wharf_metrics", Metrics)

BY: tuple[str, ...] = get_args(Grouping)


async def get_usage(request: web.Request) -> web.Response:
    recorder = request.app[USAGE]
    query = request.query
    by = query.get("by", "listener")
    if by not in BY:
        raise RequestError(f"by is listener or caller, not {by!r}", problem="invalid-query")
    grouping: Grouping = "caller" if by == "caller" else "listener"
    since = (
        parse_time(query["since"], "since") if "since" in query else recorder.clock() - DEFAULT_SPAN
    )
    body = {"since": iso_utc(since), "by": by, "items": recorder.summary(since, grouping)}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].exposition()
    # aiohttp's content_type argument takes no parameters (version, charset): set the header.
    return web.Response(body=body, headers={"Content-Type": content_type})


class Percentiles(BaseModel):
    p50: float | None = optional()
    p95: float | None = optional()
    p99: float | None = optional()


class UsageRow(BaseModel):
    listener: str
    caller: str = optional("only with by=caller; `(other)` holds callers past the limit")
    requests: int
    status: dict[str, int] = Field(description="requests by status class: 2xx, 3xx, 4xx, 5xx")
    bytes_in: int
    bytes_out: int
    latency_ms: Percentiles = Field(description="nearest-rank percentiles, within 4.5 %")
    rejected: dict[str, int] = optional("refused requests: auth, rate, quota, busy")


class Usage(BaseModel):
    since: datetime
    by: Grouping
    items: list[UsageRow]


class UsageQuery(BaseModel):
    since: str = optional("ISO 8601 time or epoch seconds (default: an hour ago)")
    by: Grouping = optional("one row per listener (default) or per listener and caller")


ROUTES = (
    AdminRoute(
        "GET",
        "/api/usage",
        get_usage,
        summary="Requests, status classes, bytes and latency per listener or caller",
        description="Kept in memory by minute for up to 24 hours; busiest first.",
        query=UsageQuery,
        replies={200: Reply("Usage", Usage)},
        problems=(400,),
    ),
)
