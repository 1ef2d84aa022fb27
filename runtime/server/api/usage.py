"""`GET /api/usage` (per listener or caller, from memory) and `GET /metrics` (Prometheus).

The recorder and the metrics live on the app under the keys below; the app creates them
and mounts these handlers with `runtime.web.routes.add_route`, so bad queries answer problems.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from runtime.core.errors import RequestError
from runtime.core.timestamps import iso_utc, parse_time
from runtime.traffic.metrics import Metrics
from runtime.traffic.usage import DEFAULT_SPAN, Grouping, UsageRecorder

USAGE = web.AppKey("wharf_usage", UsageRecorder)
METRICS = web.AppKey("wharf_metrics", Metrics)

BY = ("listener", "caller")


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


_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

USAGE_SCHEMAS: dict[str, Any] = {
    "UsageRow": {
        "type": "object",
        "required": ["listener", "requests", "status", "bytes_in", "bytes_out", "latency_ms"],
        "properties": {
            "listener": {"type": "string"},
            "caller": {
                "type": "string",
                "description": "only with by=caller; `(other)` holds callers past the limit",
            },
            "requests": {"type": "integer"},
            "status": {**_COUNTS, "description": "requests by status class: 2xx, 3xx, 4xx, 5xx"},
            "bytes_in": {"type": "integer"},
            "bytes_out": {"type": "integer"},
            "latency_ms": {
                "type": "object",
                "description": "nearest-rank percentiles, within 4.5 %",
                "properties": {
                    "p50": {"type": ["number", "null"]},
                    "p95": {"type": ["number", "null"]},
                    "p99": {"type": ["number", "null"]},
                },
            },
            "rejected": {**_COUNTS, "description": "refused requests: auth, rate, quota, busy"},
        },
    },
}

USAGE_PATHS: dict[str, Any] = {
    "/api/usage": {
        "get": {
            "operationId": "getUsage",
            "summary": "Requests, status classes, bytes and latency per listener or caller",
            "description": "Kept in memory by minute for up to 24 hours; busiest first.",
            "parameters": [
                {
                    "name": "since",
                    "in": "query",
                    "required": False,
                    "description": "ISO 8601 time or epoch seconds (default: an hour ago)",
                    "schema": {"type": "string"},
                },
                {
                    "name": "by",
                    "in": "query",
                    "required": False,
                    "description": "one row per listener (default) or per listener and caller",
                    "schema": {"type": "string", "enum": list(BY)},
                },
            ],
            "responses": {
                "200": {
                    "description": "Usage",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["since", "by", "items"],
                                "properties": {
                                    "since": {"type": "string", "format": "date-time"},
                                    "by": {"type": "string", "enum": list(BY)},
                                    "items": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/UsageRow"},
                                    },
                                },
                            }
                        }
                    },
                },
                "400": {"$ref": "#/components/responses/Problem"},
            },
        }
    },
}
