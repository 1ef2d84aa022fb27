"""The admin API under `/api/`: processes, execution records, the Execute API, retries."""

from __future__ import annotations

import base64
from typing import Any, get_args

from aiohttp import web

from runtime.core.errors import RequestError
from runtime.core.timestamps import iso_times, parse_time
from runtime.dispatch.dispatcher import Pending, parse_max_wait
from runtime.dispatch.recording import snapshots
from runtime.formats.codecs import parse_json, serialize_json
from runtime.formats.inputs import documents_from_request, encode_request, request_fingerprint
from runtime.server.api import models as m
from runtime.server.api.declaration import AdminRoute, Reply
from runtime.server.connection_checks import check_connection
from runtime.server.state import STATE, RuntimeState
from runtime.store import ExecutionQuery
from runtime.web.answers import accepted_response

MAX_PAGE = m.MAX_PAGE
ADMIN_SCOPE = "admin"  # whose idempotency keys the Execute API's are
STATUSES: tuple[str, ...] = get_args(m.ExecutionStatus)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=serialize_json(data), content_type="application/json", headers=headers
    )


def _state(request: web.Request) -> RuntimeState:
    return request.app[STATE]


def _not_found(what: str) -> RequestError:
    return RequestError(f"{what} not found", status=404, problem="not-found", title="Not found")


def _process_summary(state: RuntimeState, name: str) -> dict[str, Any]:
    process = state.by_name[name]
    definition = process.definition
    trigger = process.trigger.model_dump(
        mode="json", exclude_none=True, exclude={"idempotency_key"}
    )
    return {
        "name": process.name,
        "description": definition.description,
        "trigger": {"kind": process.trigger_kind, **trigger},
        "record": definition.record,
        "steps": len(definition.steps),
    }


async def list_processes(request: web.Request) -> web.Response:
    state = _state(request)
    return _json({"items": [_process_summary(state, name) for name in sorted(state.by_name)]})


async def get_process(request: web.Request) -> web.Response:
    state = _state(request)
    name = request.match_info["name"]
    if name not in state.by_name:
        raise _not_found(f"process {name!r}")
    return _json(_process_summary(state, name))


def _query(request: web.Request) -> ExecutionQuery:
    params = request.query
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise RequestError(
            f"status is one of {', '.join(STATUSES)}, not {status!r}", problem="invalid-query"
        )
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise RequestError(f"limit is between 1 and {MAX_PAGE}", problem="invalid-query")
    return ExecutionQuery(
        process=params.get("process"),
        status=status,
        since=parse_time(params["since"], "since") if "since" in params else None,
        until=parse_time(params["until"], "until") if "until" in params else None,
        cursor=params.get("cursor"),
        limit=limit,
    )


async def list_executions(request: web.Request) -> web.Response:
    query = _query(request)
    records = await _state(request).store.list_executions(query)
    next_cursor = records[-1].id if len(records) == query.limit else None
    return _json(
        {
            "items": [iso_times(record.as_dict(with_trace=False)) for record in records],
            "next_cursor": next_cursor,
        }
    )


async def get_execution(request: web.Request) -> web.Response:
    execution_id = request.match_info["id"]
    record = await _state(request).store.get_execution(execution_id)
    if record is None:
        raise _not_found(f"execution {execution_id!r}")
    return _json(iso_times(record.as_dict()))


def _execute_request(envelope: Any) -> dict[str, Any]:
    """The Execute API's body: `{"properties": {...}, "body": ..., "input": "json"}`."""
    if not isinstance(envelope, dict):
        raise RequestError("the body is a JSON object", problem="invalid-execute-request")
    properties = envelope.get("properties", {})
    if not isinstance(properties, dict):
        raise RequestError("properties is a JSON object", problem="invalid-execute-request")
    body = envelope.get("body")
    kind = envelope.get("input", "none" if body is None else "json")
    if kind == "json":
        raw, media_type = serialize_json(body), "application/json"
    elif kind in ("xml", "raw"):
        if not isinstance(body, str):
            raise RequestError(
                f"body is a string for input {kind}", problem="invalid-execute-request"
            )
        raw = body.encode("utf-8")
        media_type = "application/xml" if kind == "xml" else "text/plain"
    elif kind == "none":
        raw, media_type = b"", ""
    else:
        raise RequestError(
            "input is one of json, xml, raw, none", problem="invalid-execute-request"
        )
    return encode_request(kind, raw, media_type, {str(k): v for k, v in properties.items()})


async def execute_process(request: web.Request) -> web.Response:
    state = _state(request)
    name = request.match_info["name"]
    process = state.by_name.get(name)
    if process is None:
        raise _not_found(f"process {name!r}")
    raw = await request.read()
    envelope = parse_json(raw) if raw.strip() else {}
    stored = _execute_request(envelope)
    wait = request.query.get("wait")
    if wait is None:
        # Admin credentials share one scope, apart from every listener's callers; a key
        # reused for another request is refused (422).
        accepted = await state.dispatcher.accept(
            process,
            stored,
            started_by="api",
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            idempotency_scope=ADMIN_SCOPE,
            request_hash=request_fingerprint(stored),
        )
        return accepted_response(accepted.execution_id, duplicate=accepted.duplicate)
    max_wait = parse_max_wait(wait, None)
    documents = documents_from_request(stored)
    outcome = await state.dispatcher.run(process, documents, started_by="api", max_wait=max_wait)
    if isinstance(outcome, Pending):
        return accepted_response(outcome.execution_id)
    record = await state.store.get_execution(outcome.execution.id)
    assert record is not None
    return _json(
        {"execution": iso_times(record.as_dict()), "documents": snapshots(outcome.documents, [])},
        headers={"X-Execution-Id": record.id},
    )


def _request_from_snapshots(inputs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Rebuild a request from a `record: full` input snapshot (single document)."""
    if len(inputs) != 1:
        return None
    doc = inputs[0]
    kind, body = doc.get("kind"), doc.get("body")
    properties = doc.get("properties") or {}
    if kind == "json":
        return encode_request("json", serialize_json(body), "application/json", properties)
    if kind == "xml":
        return encode_request("xml", str(body).encode(), "application/xml", properties)
    if kind == "raw":
        return encode_request("raw", base64.b64decode(body or ""), doc["media_type"], properties)
    if kind == "none":
        return encode_request("none", b"", "", properties)
    return None


async def retry_execution(request: web.Request) -> web.Response:
    state = _state(request)
    execution_id = request.match_info["id"]
    record = await state.store.get_execution(execution_id)
    if record is None:
        raise _not_found(f"execution {execution_id!r}")
    if record.status != "failed":
        raise RequestError(
            f"only failed executions can be retried; this one is {record.status}",
            status=409,
            problem="not-retryable",
            title="Conflict",
        )
    process = state.by_name.get(record.process)
    if process is None:
        raise _not_found(f"process {record.process!r}")
    stored = await state.store.inbox_request(execution_id)
    if stored is None and record.input:
        stored = _request_from_snapshots(record.input)
    if stored is None:
        raise RequestError(
            "the input of this execution was not kept (async listeners keep it; so does "
            "`record: full`)",
            status=409,
            problem="input-not-kept",
            title="Conflict",
        )
    accepted = await state.dispatcher.accept(
        process, stored, started_by="retry", parent_id=execution_id, retry_of=record
    )
    return accepted_response(accepted.execution_id)


async def list_connections(request: web.Request) -> web.Response:
    configs = _state(request).connections.configs
    items = [
        {
            "name": name,
            "connector": getattr(config, "connector", None),
            "description": config.description,
        }
        for name, config in sorted(configs.items())
    ]
    return _json({"items": items})


async def test_connection(request: web.Request) -> web.Response:
    state = _state(request)
    name = request.match_info["name"]
    if name not in state.connections.configs:
        raise _not_found(f"connection {name!r}")
    result = await check_connection(state.connections, name)
    return _json(result.as_dict())


ACCEPTED = Reply(
    "Accepted: durably stored (or still running); poll the status URL.",
    m.Accepted,
    headers=("Location", "X-Execution-Id", "X-Execution-Status-Link"),
)
EXECUTE = (
    "Without `wait`, the request is stored durably and run by a worker (202). With `wait` "
    "(ms), it runs at once; the record comes back if it finishes in time, else 202. "
    "`Idempotency-Key` de-duplicates async requests."
)

ROUTES = (
    AdminRoute(
        "GET",
        "/api/processes",
        list_processes,
        summary="List processes with their triggers",
        replies={200: Reply("Processes", m.ProcessList)},
    ),
    AdminRoute(
        "GET",
        "/api/processes/{name}",
        get_process,
        summary="One process",
        path_params=m.ProcessName,
        replies={200: Reply("The process", m.Process)},
        problems=(404,),
    ),
    AdminRoute(
        "POST",
        "/api/processes/{name}/executions",
        execute_process,
        summary="Start an execution (Execute API)",
        description=EXECUTE,
        path_params=m.ProcessName,
        query=m.ExecuteWait,
        headers=m.IdempotencyKey,
        body=m.ExecuteRequest,
        body_required=False,
        replies={200: Reply("Finished within the wait", m.ExecuteResult), 202: ACCEPTED},
        problems=(400, 404, 413, 503),
    ),
    AdminRoute(
        "GET",
        "/api/executions",
        list_executions,
        summary="List execution records, newest first",
        query=m.ExecutionFilter,
        replies={200: Reply("A page of records", m.ExecutionPage)},
        problems=(400,),
    ),
    AdminRoute(
        "GET",
        "/api/executions/{id}",
        get_execution,
        summary="One execution record with its trace",
        path_params=m.ExecutionId,
        replies={200: Reply("The record", m.Execution)},
        problems=(404,),
    ),
    AdminRoute(
        "POST",
        "/api/executions/{id}/retry",
        retry_execution,
        summary="Retry a failed execution as a new one linked to it",
        path_params=m.ExecutionId,
        replies={202: ACCEPTED},
        problems=(404, 409, 503),
    ),
    AdminRoute(
        "GET",
        "/api/connections",
        list_connections,
        summary="Connections from connections.yaml (no secrets)",
        replies={200: Reply("Connections", m.ConnectionList)},
    ),
    AdminRoute(
        "POST",
        "/api/connections/{name}/test",
        test_connection,
        summary="Open a connection and prove it works (SQL: SELECT 1)",
        path_params=m.ConnectionName,
        replies={200: Reply("The check's result", m.CheckResult)},
        problems=(404,),
    ),
)
