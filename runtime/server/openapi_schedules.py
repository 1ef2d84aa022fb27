"""The schedule part of the admin API's OpenAPI document."""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/responses/Problem"}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "process name",
    "schema": {"type": "string"},
}


def _ok(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


SCHEDULE_SCHEMAS: dict[str, Any] = {
    "Fire": {
        "type": "object",
        "required": ["slot", "kind", "status"],
        "properties": {
            "process": {"type": "string"},
            "slot": {"type": "string", "format": "date-time", "description": "nominal fire time"},
            "kind": {"type": "string", "enum": ["schedule", "catch_up", "manual"]},
            "status": {
                "type": "string",
                "enum": [
                    "running",
                    "queued",
                    "succeeded",
                    "failed",
                    "idle",
                    "skipped",
                    "missed",
                    "abandoned",
                ],
            },
            "claimed_by": {"type": "string", "description": "the runtime that ran it"},
            "claimed_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "execution_id": {"type": ["string", "null"]},
            "executions": {"type": "integer"},
            "error": {"type": ["object", "null"]},
        },
    },
    "Schedule": {
        "type": "object",
        "required": ["process", "trigger", "paused", "next_fire_at", "last_fire"],
        "properties": {
            "process": {"type": "string"},
            "trigger": {"type": "string"},
            "cron": {"type": ["string", "null"]},
            "every": {"type": ["number", "null"]},
            "timezone": {"type": "string"},
            "overlap": {"type": "string", "enum": ["skip", "queue", "allow"]},
            "catch_up": {"type": "string", "enum": ["none", "once"]},
            "paused": {"type": "boolean"},
            "next_fire_at": {"type": ["string", "null"], "format": "date-time"},
            "running": {"type": "integer"},
            "last_fire": {"oneOf": [{"$ref": "#/components/schemas/Fire"}, {"type": "null"}]},
            "fires": {"type": "array", "items": {"$ref": "#/components/schemas/Fire"}},
        },
    },
}

SCHEDULE_PATHS: dict[str, Any] = {
    "/api/schedules": {
        "get": {
            "operationId": "listSchedules",
            "summary": "Scheduled processes and pollers: next fire time, last result",
            "responses": {
                "200": {
                    "description": "Schedules",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Schedule"},
                                    }
                                },
                            }
                        }
                    },
                }
            },
        }
    },
    "/api/schedules/{name}": {
        "get": {
            "operationId": "getSchedule",
            "summary": "One schedule with its recent fires (newest first)",
            "parameters": [
                _NAME,
                {
                    "name": "fires",
                    "in": "query",
                    "required": False,
                    "description": "how many recent fires (1-500, default 20)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20},
                },
            ],
            "responses": {"200": _ok("The schedule", "Schedule"), "400": PROBLEM, "404": PROBLEM},
        }
    },
    "/api/schedules/{name}/pause": {
        "post": {
            "operationId": "pauseSchedule",
            "summary": "Pause: fires do nothing until resumed (kept in the store)",
            "parameters": [_NAME],
            "responses": {"200": _ok("The schedule", "Schedule"), "404": PROBLEM},
        }
    },
    "/api/schedules/{name}/resume": {
        "post": {
            "operationId": "resumeSchedule",
            "summary": "Resume a paused schedule",
            "parameters": [_NAME],
            "responses": {"200": _ok("The schedule", "Schedule"), "404": PROBLEM},
        }
    },
    "/api/schedules/{name}/run": {
        "post": {
            "operationId": "runSchedule",
            "summary": "Fire now, even when paused",
            "parameters": [
                _NAME,
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "description": "milliseconds to wait for the fire to finish (default 0: "
                    "answer 202 at once); `wharf run-now --wait` takes seconds",
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "responses": {
                "200": _ok("The finished fire", "Fire"),
                "202": {
                    "description": "Started and still running; see GET /api/schedules/{name}",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["process", "status"],
                                "properties": {
                                    "process": {"type": "string"},
                                    "status": {"type": "string", "enum": ["running"]},
                                },
                            }
                        }
                    },
                },
                "400": PROBLEM,
                "404": PROBLEM,
            },
        }
    },
}
