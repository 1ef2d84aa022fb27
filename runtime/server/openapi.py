"""The OpenAPI 3.1 description of the admin API, served at `/api/openapi.json`."""

from __future__ import annotations

from functools import cache
from typing import Any

from runtime.server.api.usage import USAGE_PATHS, USAGE_SCHEMAS
from runtime.server.openapi_schedules import SCHEDULE_PATHS, SCHEDULE_SCHEMAS

PROBLEM = {"$ref": "#/components/responses/Problem"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": _json_content(schema)}


def _param(name: str, where: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


_ACCEPTED = {
    "description": "Accepted: durably stored (or still running); poll the status URL.",
    "headers": {
        "Location": {"schema": {"type": "string"}},
        "X-Execution-Id": {"schema": {"type": "string"}},
        "X-Execution-Status-Link": {"schema": {"type": "string"}},
    },
    "content": _json_content({"$ref": "#/components/schemas/Accepted"}),
}

_EXECUTION_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "process": {"type": "string"},
    "trigger": {"type": "string", "enum": ["listener", "api", "schedule", "poll", "retry"]},
    "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
    "created_at": {"type": "string", "format": "date-time"},
    "started_at": {"type": ["string", "null"], "format": "date-time"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "duration_ms": {"type": ["number", "null"]},
    "documents_in": {"type": "integer"},
    "documents_out": {"type": "integer"},
    "error": {
        "type": ["object", "null"],
        "properties": {
            "type": {"type": "string"},
            "message": {"type": "string"},
            "step": {"type": ["string", "null"]},
        },
    },
    "parent_id": {"type": ["string", "null"]},
    "idempotency_key": {"type": ["string", "null"]},
    "attempt": {
        "type": "integer",
        "description": "1, or more after a re-run (the runtime stopped mid-run) or a retry",
    },
}

_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "execution_id": {"type": "string"},
            "step": {"type": "string"},
        },
    },
    "Process": {
        "type": "object",
        "required": ["name", "trigger"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "trigger": {"type": "object", "properties": {"kind": {"type": "string"}}},
            "record": {"type": "string", "enum": ["full", "summary", "errors"]},
            "steps": {"type": "integer"},
        },
    },
    "ExecutionSummary": {
        "type": "object",
        "required": ["id", "process", "trigger", "status"],
        "properties": _EXECUTION_FIELDS,
    },
    "Execution": {
        "type": "object",
        "required": ["id", "process", "trigger", "status", "trace"],
        "properties": {
            **_EXECUTION_FIELDS,
            "trace": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "duration_ms": {"type": "number"},
                        "documents_in": {"type": "integer"},
                        "documents_out": {"type": "integer"},
                        "error": {"type": ["string", "null"]},
                    },
                },
            },
            "input": {"type": ["array", "null"], "items": {"type": "object"}},
            "output": {"type": ["array", "null"], "items": {"type": "object"}},
            "attempts": {
                "type": "array",
                "description": "every attempt's outcome, oldest first; an attempt cut off by "
                "a crash or a stop is `interrupted`",
                "items": {
                    "type": "object",
                    "properties": {
                        "attempt": {"type": "integer"},
                        "execution_id": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["queued", "running", "succeeded", "failed", "interrupted"],
                        },
                        "started_at": _EXECUTION_FIELDS["started_at"],
                        "finished_at": _EXECUTION_FIELDS["finished_at"],
                        "duration_ms": {"type": ["number", "null"]},
                        "error": {"type": ["object", "null"]},
                    },
                },
            },
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["execution_id", "status_url"],
        "properties": {
            "execution_id": {"type": "string"},
            "status_url": {"type": "string"},
            "duplicate": {"type": "boolean"},
        },
    },
    "Connection": {
        "type": "object",
        "required": ["name", "connector"],
        "properties": {
            "name": {"type": "string"},
            "connector": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    "CheckResult": {
        "type": "object",
        "required": ["name", "connector", "ok", "detail", "duration_ms"],
        "properties": {
            "name": {"type": "string"},
            "connector": {"type": "string"},
            "ok": {"type": "boolean"},
            "detail": {"type": "string"},
            "duration_ms": {"type": "number"},
        },
    },
    "ExecuteRequest": {
        "type": "object",
        "properties": {
            "properties": {"type": "object", "description": "document properties"},
            "body": {"description": "JSON value, or a string for input xml/raw"},
            "input": {"type": "string", "enum": ["json", "xml", "raw", "none"]},
        },
    },
}


_SECURITY_SCHEMES = {
    "adminKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An admin key: WHARF_ADMIN_KEY, `wharf keys create --admin`, or the "
        "key printed on the first start.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin key as a bearer token, or an admin JWT (security.yaml "
        "`admin.jwt`).",
    },
}


def _guarded(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation sits behind the admin guard: it may answer 401 and 403 too."""
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"].setdefault(
                "401", {"$ref": "#/components/responses/Unauthorized"}
            )
            operation["responses"].setdefault("403", {"$ref": "#/components/responses/Forbidden"})
    return paths


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    execution_id = _param("id", "path", "execution id", {"type": "string"})
    process_name = _param("name", "path", "process name", {"type": "string"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wharf admin API",
            "version": "1",
            "description": "Processes, execution records, the Execute API and retries.",
        },
        "security": [{"adminKey": []}, {"bearer": []}],
        "paths": _guarded(
            {
                "/api/processes": {
                    "get": {
                        "operationId": "listProcesses",
                        "summary": "List processes with their triggers",
                        "responses": {
                            "200": _ok(
                                "Processes",
                                {
                                    "type": "object",
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Process"},
                                        }
                                    },
                                },
                            )
                        },
                    }
                },
                "/api/processes/{name}": {
                    "get": {
                        "operationId": "getProcess",
                        "summary": "One process",
                        "parameters": [process_name],
                        "responses": {
                            "200": _ok("The process", {"$ref": "#/components/schemas/Process"}),
                            "404": PROBLEM,
                        },
                    }
                },
                "/api/processes/{name}/executions": {
                    "post": {
                        "operationId": "executeProcess",
                        "summary": "Start an execution (Execute API)",
                        "description": "Without `wait`, the request is stored durably and run by a "
                        "worker (202). With `wait` (ms), it runs at once; the record comes back "
                        "if it finishes in time, else 202. `Idempotency-Key` de-duplicates async "
                        "requests.",
                        "parameters": [
                            process_name,
                            _param(
                                "wait",
                                "query",
                                "milliseconds to wait (as the X-Max-Wait header of listeners)",
                                {"type": "integer", "minimum": 0},
                            ),
                            _param(
                                "Idempotency-Key",
                                "header",
                                "de-duplication key",
                                {"type": "string"},
                            ),
                        ],
                        "requestBody": {
                            "required": False,
                            "content": _json_content(
                                {"$ref": "#/components/schemas/ExecuteRequest"}
                            ),
                        },
                        "responses": {
                            "200": _ok(
                                "Finished within the wait",
                                {
                                    "type": "object",
                                    "properties": {
                                        "execution": {"$ref": "#/components/schemas/Execution"},
                                        "documents": {"type": "array", "items": {"type": "object"}},
                                    },
                                },
                            ),
                            "202": _ACCEPTED,
                            "400": PROBLEM,
                            "404": PROBLEM,
                            "413": PROBLEM,
                            "503": PROBLEM,
                        },
                    }
                },
                "/api/executions": {
                    "get": {
                        "operationId": "listExecutions",
                        "summary": "List execution records, newest first",
                        "parameters": [
                            _param("process", "query", "process name", {"type": "string"}),
                            _param(
                                "status",
                                "query",
                                "status",
                                {
                                    "type": "string",
                                    "enum": ["queued", "running", "succeeded", "failed"],
                                },
                            ),
                            _param(
                                "since", "query", "ISO-8601 or epoch seconds", {"type": "string"}
                            ),
                            _param(
                                "until", "query", "ISO-8601 or epoch seconds", {"type": "string"}
                            ),
                            _param(
                                "cursor",
                                "query",
                                "next_cursor of the previous page",
                                {"type": "string"},
                            ),
                            _param(
                                "limit",
                                "query",
                                "page size",
                                {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                            ),
                        ],
                        "responses": {
                            "200": _ok(
                                "A page of records",
                                {
                                    "type": "object",
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {
                                                "$ref": "#/components/schemas/ExecutionSummary"
                                            },
                                        },
                                        "next_cursor": {"type": ["string", "null"]},
                                    },
                                },
                            ),
                            "400": PROBLEM,
                        },
                    }
                },
                "/api/executions/{id}": {
                    "get": {
                        "operationId": "getExecution",
                        "summary": "One execution record with its trace",
                        "parameters": [execution_id],
                        "responses": {
                            "200": _ok("The record", {"$ref": "#/components/schemas/Execution"}),
                            "404": PROBLEM,
                        },
                    }
                },
                "/api/executions/{id}/retry": {
                    "post": {
                        "operationId": "retryExecution",
                        "summary": "Retry a failed execution as a new one linked to it",
                        "parameters": [execution_id],
                        "responses": {
                            "202": _ACCEPTED,
                            "404": PROBLEM,
                            "409": PROBLEM,
                            "503": PROBLEM,
                        },
                    }
                },
                "/api/connections": {
                    "get": {
                        "operationId": "listConnections",
                        "summary": "Connections from connections.yaml (no secrets)",
                        "responses": {
                            "200": _ok(
                                "Connections",
                                {
                                    "type": "object",
                                    "properties": {
                                        "items": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Connection"},
                                        }
                                    },
                                },
                            )
                        },
                    }
                },
                "/api/connections/{name}/test": {
                    "post": {
                        "operationId": "testConnection",
                        "summary": "Open a connection and prove it works (SQL: SELECT 1)",
                        "parameters": [
                            _param("name", "path", "connection name", {"type": "string"})
                        ],
                        "responses": {
                            "200": _ok(
                                "The check's result", {"$ref": "#/components/schemas/CheckResult"}
                            ),
                            "404": PROBLEM,
                        },
                    }
                },
                **SCHEDULE_PATHS,
                **USAGE_PATHS,
                "/api/openapi.json": {
                    "get": {
                        "operationId": "getOpenAPI",
                        "summary": "This document",
                        "responses": {"200": _ok("OpenAPI document", {"type": "object"})},
                    }
                },
            }
        ),
        "components": {
            "schemas": {**_SCHEMAS, **SCHEDULE_SCHEMAS, **USAGE_SCHEMAS},
            "responses": {
                "Problem": _problem("RFC 9457 problem details"),
                "Unauthorized": {
                    **_problem("No valid admin credential (the detail says where keys come from)"),
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                },
                "Forbidden": _problem("A valid credential that is not an admin one"),
            },
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }
