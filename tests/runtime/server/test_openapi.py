"""The admin API's OpenAPI document, generated from the route declarations."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from runtime.server.api.declaration import AdminRoute, Reply
from runtime.server.api.models import ProcessName
from runtime.server.api.routes import ROUTES, openapi_document
from runtime.server.openapi import build_document


async def answer_nothing(request: web.Request) -> web.Response:
    return web.Response()


class Empty(BaseModel):
    pass


def _parameter(path: str, method: str, name: str) -> dict[str, Any]:
    operation = openapi_document()["paths"][path][method]
    found = [p for p in operation["parameters"] if p["name"] == name]
    assert len(found) == 1, (path, name)
    return found[0]


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document is openapi_document()  # made once


def test_every_declaration_is_one_operation_with_its_own_id() -> None:
    operations = [op for ops in openapi_document()["paths"].values() for op in ops.values()]
    assert len(operations) == len(ROUTES)
    ids = [operation["operationId"] for operation in operations]
    assert len(set(ids)) == len(ids)
    assert {"listProcesses", "executeProcess", "runSchedule", "getUsage", "getOpenAPI"} <= set(ids)


def test_every_problem_answer_is_a_problem_body() -> None:
    document = openapi_document()
    responses = document["components"]["responses"]
    for name in ("Problem", "Unauthorized", "Forbidden"):
        content = responses[name]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status", "detail"]
    challenge = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    assert responses["Unauthorized"]["headers"] == challenge
    retry = document["paths"]["/api/executions/{id}/retry"]["post"]["responses"]
    for status in ("404", "409", "503"):
        assert retry[status] == {"$ref": "#/components/responses/Problem"}


def test_the_bounds_the_handlers_check_are_documented() -> None:
    limit = _parameter("/api/executions", "get", "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    assert limit["required"] is False
    fires = _parameter("/api/schedules/{name}", "get", "fires")
    assert fires["schema"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 20}
    for path in ("/api/processes/{name}/executions", "/api/schedules/{name}/run"):
        assert _parameter(path, "post", "wait")["schema"] == {"type": "integer", "minimum": 0}
    assert _parameter("/api/processes/{name}", "get", "name") == {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "process name",
        "schema": {"type": "string"},
    }
    key = _parameter("/api/processes/{name}/executions", "post", "Idempotency-Key")
    assert (key["in"], key["required"]) == ("header", False)


def test_times_are_date_times_and_absent_fields_are_not_null() -> None:
    schemas = openapi_document()["components"]["schemas"]
    summary = schemas["ExecutionSummary"]["properties"]
    assert summary["created_at"] == {"type": "string", "format": "date-time"}
    assert summary["started_at"] == {"type": ["string", "null"], "format": "date-time"}
    assert schemas["Fire"]["properties"]["slot"]["format"] == "date-time"
    assert schemas["Usage"]["properties"]["since"] == {"type": "string", "format": "date-time"}
    assert schemas["ExecutionSummary"]["required"] == ["id", "process", "trigger", "status"]
    assert "title" not in schemas["Execution"]
    assert all("default" not in field for field in summary.values())


def test_a_route_declared_twice_is_refused() -> None:
    route = AdminRoute("GET", "/api/x", answer_nothing, "x", {200: Reply("x", Empty)})
    again = AdminRoute(
        "GET", "/api/x", answer_nothing, "x", {200: Reply("x", Empty)}, operation_id="other"
    )
    with pytest.raises(ValueError, match="duplicate"):
        build_document([route, again])


def test_path_parameters_match_the_path() -> None:
    with pytest.raises(ValueError, match="path_params"):
        AdminRoute("GET", "/api/x/{id}", answer_nothing, "x", {200: Reply("x", Empty)})
    with pytest.raises(ValueError, match="path_params"):
        AdminRoute("GET", "/api/x/{id}", answer_nothing, "x", {}, path_params=ProcessName)


def test_a_guard_status_is_no_success_reply() -> None:
    with pytest.raises(ValueError, match="problems"):
        AdminRoute("GET", "/api/x", answer_nothing, "x", {401: Reply("x", Empty)})


def test_a_parameter_model_holds_plain_values() -> None:
    class Nested(BaseModel):
        inner: Empty = Field(description="not a parameter")

    route = AdminRoute("GET", "/api/x", answer_nothing, "x", {200: Reply("x", Empty)}, query=Nested)
    with pytest.raises(ValueError, match="plain values"):
        build_document([route])


def test_the_operation_id_defaults_to_the_handler_name() -> None:
    route = AdminRoute("GET", "/api/x", answer_nothing, "x", {200: Reply("x", Empty)})
    assert route.operation_id == "answerNothing"
    document = build_document([route])
    assert document["paths"]["/api/x"]["get"]["operationId"] == "answerNothing"
    assert set(document["paths"]["/api/x"]["get"]["responses"]) == {"200", "401", "403"}
