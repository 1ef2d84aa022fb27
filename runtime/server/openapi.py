"""The admin API's OpenAPI 3.1 document, generated from the route declarations.

Paths, operations, parameters and bodies come from each `AdminRoute` and its pydantic
models, whose definitions become `components/schemas`. What every admin route shares
(the guard's 401 and 403, the problem body, the security schemes) is written here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from runtime.server.api.declaration import AdminRoute, Reply
from runtime.server.api.models import Problem
from runtime.web.problems import PROBLEM_JSON

SCHEMA_REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": "#/components/responses/Problem"}
_GUARD_REFUSALS = {
    401: {"$ref": "#/components/responses/Unauthorized"},
    403: {"$ref": "#/components/responses/Forbidden"},
}

INFO = {
    "title": "Wharf admin API",
    "version": "1",
    "description": "Processes, execution records, the Execute API and retries.",
}

SECURITY_SCHEMES = {
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

ModelKey = tuple[type[BaseModel], JsonSchemaMode]


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema, trimmed for people reading the document: no titles made
    from names, no `default: null` on fields a body may leave out, and `type: [x, "null"]`
    for a nullable plain value."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> dict[str, Any]:
        json_schema = super().model_schema(schema)
        json_schema.pop("title", None)
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        json_schema = super().default_schema(schema)
        if "default" in schema and schema["default"] is None:
            json_schema.pop("default", None)
        return json_schema

    def nullable_schema(self, schema: core_schema.NullableSchema) -> dict[str, Any]:
        inner = self.generate_inner(schema["schema"])
        kind = inner.get("type")
        if isinstance(kind, str) and kind != "null":
            return {**inner, "type": [kind, "null"]}
        return super().nullable_schema(schema)


def _json(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _shared_responses(problem: dict[str, Any]) -> dict[str, Any]:
    def answer(description: str) -> dict[str, Any]:
        return {"description": description, "content": _json(problem, PROBLEM_JSON)}

    return {
        "Problem": answer("RFC 9457 problem details"),
        "Unauthorized": {
            **answer("No valid admin credential (the detail says where keys come from)"),
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        },
        "Forbidden": answer("A valid credential that is not an admin one"),
    }


def _models(routes: Sequence[AdminRoute]) -> list[ModelKey]:
    """Every body model once: requests as they are read, answers as they are written."""
    keys: list[ModelKey] = [(Problem, "serialization")]
    for route in routes:
        if route.body is not None:
            keys.append((route.body, "validation"))
        keys += [(reply.body, "serialization") for reply in route.replies.values()]
    return list(dict.fromkeys(keys))


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    """One parameter per field of the model, its description beside its schema."""
    if model is None:
        return []
    schema = model.model_json_schema(schema_generator=_Schemas)
    if "$defs" in schema:
        raise ValueError(f"{model.__name__}: parameters are plain values, not models")
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field_schema = dict(field)
        description = field_schema.pop("description", None)
        parameter = {"name": name, "in": where, "required": where == "path" or name in required}
        if description is not None:
            parameter["description"] = description
        parameters.append({**parameter, "schema": field_schema})
    return parameters


def _reply(reply: Reply, schema: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        answer["headers"] = {name: {"schema": {"type": "string"}} for name in reply.headers}
    answer["content"] = _json(schema)
    return answer


def _operation(route: AdminRoute, refs: Mapping[Any, dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
    if route.description is not None:
        operation["description"] = route.description
    parameters = [
        *_parameters(route.path_params, "path"),
        *_parameters(route.query, "query"),
        *_parameters(route.headers, "header"),
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        content = _json(refs[(route.body, "validation")])
        operation["requestBody"] = {"required": route.body_required, "content": content}
    responses: dict[int, Any] = {
        status: _reply(reply, refs[(reply.body, "serialization")])
        for status, reply in route.replies.items()
    }
    responses |= dict.fromkeys(route.problems, PROBLEM)
    responses |= _GUARD_REFUSALS
    operation["responses"] = {str(status): responses[status] for status in sorted(responses)}
    return operation


def build_document(routes: Sequence[AdminRoute]) -> dict[str, Any]:
    """The document of these routes; refuses a route or an operationId declared twice."""
    refs, definitions = models_json_schema(
        _models(routes), ref_template=SCHEMA_REF, schema_generator=_Schemas
    )
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route in routes:
        operations = paths.setdefault(route.path, {})
        method = route.method.lower()
        if method in operations or route.operation_id in operation_ids:
            raise ValueError(f"{route.method} {route.path} ({route.operation_id}) is a duplicate")
        operation_ids.add(route.operation_id)
        operations[method] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "security": [{name: []} for name in SECURITY_SCHEMES],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": _shared_responses(refs[(Problem, "serialization")]),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
