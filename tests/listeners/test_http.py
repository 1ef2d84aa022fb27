"""listeners.http: every input kind, routing errors and failures, against the real app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.core.components import Step, StepContext
from runtime.core.document import Document
from runtime.loading.loader import load_processes
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import (
    ADMIN_KEY,
    Client,
    ClientFactory,
    admin_client,
    app_client,
    fresh_dir,
    validate_files,
    write_files,
)

# Each process answers what its steps saw: the body's kind-specific value and media type.
PROCESSES = {
    "none.yaml": """
        name: none
        trigger: {http: {auth: none, method: GET, path: /none, input: none}}
        steps:
          - map: {fields: {doc: doc, method: props.inmethod}}
    """,
    "raw.yaml": """
        name: raw
        trigger: {http: {auth: none, method: PUT, path: /raw, input: raw}}
        steps:
          - map:
              fields:
                text: doc
                length: doc | length
                type: props['inheader_content-type'] | default(none)
    """,
    "json.yaml": """
        name: json
        trigger: {http: {auth: none, method: POST, path: /json, input: json}}
        steps:
          - map: {fields: {got: doc}}
    """,
    "xml.yaml": """
        name: xml
        namespaces: {po: 'urn:po'}
        trigger: {http: {auth: none, method: POST, path: /xml, input: xml}}
        steps:
          - map:
              fields:
                id: xpath('/po:order/@id')
                skus: xpath_list('//po:sku')
    """,
    "form.yaml": """
        name: form
        trigger: {http: {auth: none, method: POST, path: /form, input: form}}
        steps:
          - map: {fields: {got: doc}}
    """,
    "multiple.yaml": """
        name: multiple
        trigger: {http: {auth: none, method: POST, path: /multiple, input: json_multiple}}
        steps:
          - map: {fields: {item: doc}}
    """,
    "failing.yaml": """
        name: failing
        trigger: {http: {auth: none, method: POST, path: /failing, input: json}}
        steps:
          - set: {properties: {ok: true}}
          - route:
              routes:
                - when: doc.kind == 'declared'
                  steps:
                    - fail:
                        status: 422
                        title: Invalid order
                        detail: "'order ' ~ doc.id ~ ' is invalid'"
                        problem: invalid-order
          - map: {fields: {id: doc.id}}
    """,
    "methods.yaml": """
        name: methods
        trigger: {http: {auth: none, method: DELETE, path: '/things/{id}', input: none}}
        steps:
          - map: {fields: {deleted: props.param_id}}
    """,
}


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> Client:
    return await app_client(aiohttp_client, tmp_path, PROCESSES)


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:wharf:problem:")
    return body


# --- input kinds ------------------------------------------------------------------------------


async def test_input_none(client: Client) -> None:
    response = await client.get("/none")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == {"doc": None, "method": "GET"}
    refused = await problem(await client.get("/none", data=b"body"), 400)
    assert refused["type"] == "urn:wharf:problem:unexpected-body"
    assert refused["detail"] == "this endpoint takes no request body"


async def test_input_raw(client: Client) -> None:
    response = await client.put("/raw", data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert response.status == 200
    assert await response.json() == {"text": "a,b\n1,2\n", "length": 8, "type": "text/csv"}
    empty = await client.put("/raw", skip_auto_headers=["Content-Type"])
    assert await empty.json() == {"text": "", "length": 0, "type": None}


async def test_input_json(client: Client) -> None:
    response = await client.post("/json", json={"id": "A-1", "lines": [1, 2]})
    assert response.status == 200
    assert await response.json() == {"got": {"id": "A-1", "lines": [1, 2]}}
    # +json types and a missing Content-Type are accepted.
    vendor = await client.post(
        "/json", data=b"[1]", headers={"Content-Type": "application/vnd.acme+json"}
    )
    assert await vendor.json() == {"got": [1]}
    untyped = await client.post("/json", data=b'"s"', skip_auto_headers=["Content-Type"])
    assert untyped.status == 200
    assert await untyped.json() == {"got": "s"}


async def test_malformed_json_is_400(client: Client) -> None:
    body = await problem(
        await client.post("/json", data=b'{"id": ', headers={"Content-Type": "application/json"}),
        400,
    )
    assert body == {
        "type": "urn:wharf:problem:malformed-json",
        "title": "Malformed JSON",
        "status": 400,
        "detail": "the body is not valid JSON: unexpected end of data: line 1 column 8 (char 7)",
    }


async def test_missing_json_body_is_400(client: Client) -> None:
    body = await problem(
        await client.post("/json", data=b"  ", headers={"Content-Type": "application/json"}), 400
    )
    assert body["type"] == "urn:wharf:problem:missing-body"
    assert body["detail"] == "this endpoint needs a JSON body and the request has none"


async def test_input_xml(client: Client) -> None:
    xml = b'<order xmlns="urn:po" id="PO-1"><sku>A</sku><sku>B</sku></order>'
    for content_type in ("application/xml", "text/xml", "application/soap+xml"):
        response = await client.post("/xml", data=xml, headers={"Content-Type": content_type})
        assert response.status == 200, content_type
        assert await response.json() == {"id": "PO-1", "skus": ["A", "B"]}


async def test_hostile_xml_is_400(client: Client) -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    body = await problem(
        await client.post("/xml", data=xxe, headers={"Content-Type": "application/xml"}), 400
    )
    assert body["type"] == "urn:wharf:problem:malformed-xml"
    assert body["detail"] == "DOCTYPE declarations are not allowed"
    deep = b"<a>" * 300 + b"</a>" * 300
    body = await problem(
        await client.post("/xml", data=deep, headers={"Content-Type": "application/xml"}), 400
    )
    assert "Excessive depth" in body["detail"]


async def test_input_form(client: Client) -> None:
    response = await client.post(
        "/form",
        data=b"name=Ada+Lovelace&city=London&name=ignored&empty=&amp=%26",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 200
    assert await response.json() == {
        "got": {"name": "Ada Lovelace", "city": "London", "empty": "", "amp": "&"}
    }
    latin1 = await problem(
        await client.post(
            "/form", data=b"a=\xe9", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
        400,
    )
    assert latin1["type"] == "urn:wharf:problem:malformed-form"


async def test_input_json_multiple(client: Client) -> None:
    response = await client.post("/multiple", json=[{"a": 1}, 2, "three"])
    assert response.status == 200
    assert await response.json() == [{"item": {"a": 1}}, {"item": 2}, {"item": "three"}]
    # Not an array: one document.
    single = await client.post("/multiple", json={"a": 1})
    assert await single.json() == {"item": {"a": 1}}
    # An empty array: no documents, so no content.
    empty = await client.post("/multiple", json=[])
    assert empty.status == 204
    assert await empty.read() == b""
    assert empty.headers["X-Execution-Id"]


@pytest.mark.parametrize(
    ("path", "content_type", "expected"),
    [
        ("/json", "text/plain", "JSON (application/json)"),
        ("/json", "application/xml", "JSON (application/json)"),
        ("/xml", "application/json", "XML (application/xml or text/xml)"),
        ("/form", "application/json", "a form (application/x-www-form-urlencoded)"),
        ("/multiple", "text/csv", "JSON (application/json)"),
    ],
)
async def test_wrong_content_type_is_415(
    client: Client, path: str, content_type: str, expected: str
) -> None:
    response = await client.post(path, data=b"x=1", headers={"Content-Type": content_type})
    body = await problem(response, 415)
    assert body == {
        "type": "urn:wharf:problem:unsupported-media-type",
        "title": "Unsupported media type",
        "status": 415,
        "detail": f"this endpoint takes {expected}; the request's Content-Type is {content_type}",
    }


# --- routing ------------------------------------------------------------------------------


async def test_unknown_path_is_404(client: Client) -> None:
    body = await problem(await client.get("/nowhere"), 404)
    assert body == {
        "type": "urn:wharf:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no listener at /nowhere",
    }


async def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.get("/json")
    body = await problem(response, 405)
    assert response.headers["Allow"] == "POST"
    assert body == {
        "type": "urn:wharf:problem:method-not-allowed",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "GET is not allowed on /json",
    }
    other = await client.post("/things/7")
    await problem(other, 405)
    assert other.headers["Allow"] == "DELETE"


async def test_path_parameters_route(client: Client) -> None:
    response = await client.delete("/things/42")
    assert response.status == 200
    assert await response.json() == {"deleted": "42"}
    await problem(await client.delete("/things/42/more"), 404)


async def test_health_endpoints_are_not_shadowed(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


# --- failures ---------------------------------------------------------------------------------


async def test_declared_failure_is_a_problem_with_execution_and_step(client: Client) -> None:
    response = await client.post("/failing", json={"kind": "declared", "id": "A-9"})
    body = await problem(response, 422)
    execution_id = response.headers["X-Execution-Id"]
    assert body == {
        "type": "urn:wharf:problem:invalid-order",
        "title": "Invalid order",
        "status": 422,
        "detail": "order A-9 is invalid",
        "execution_id": execution_id,
        "step": "steps[1].route.routes[0].steps[0].fail",
    }
    record = await client.get(f"/api/executions/{execution_id}")
    assert record.status == 200
    recorded = await record.json()
    assert recorded["status"] == "failed"
    assert recorded["error"]["step"] == "steps[1].route.routes[0].steps[0].fail"


async def test_failing_expression_is_500_naming_the_step(client: Client) -> None:
    response = await client.post("/failing", json={"kind": "other"})
    body = await problem(response, 500)
    assert body == {
        "type": "urn:wharf:problem:expression-failed",
        "title": "Expression failed",
        "status": 500,
        "detail": "'doc.id': 'dict object' has no attribute 'id'",
        "execution_id": response.headers["X-Execution-Id"],
        "step": "steps[2].map",
    }


async def test_success_carries_the_execution_id(client: Client) -> None:
    response = await client.post("/failing", json={"kind": "fine", "id": "A-1"})
    assert response.status == 200
    assert await response.json() == {"id": "A-1"}
    execution_id = response.headers["X-Execution-Id"]
    record = await (await client.get(f"/api/executions/{execution_id}")).json()
    assert record["status"] == "succeeded"
    assert [entry["step"] for entry in record["trace"]] == [
        "steps[0].set",
        "steps[1].route",
        "steps[2].map",
    ]


# --- configuration ------------------------------------------------------------------------


def test_trigger_configuration_problems(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\ntrigger:\n  http: {auth: none, path: /a, method: HEAD}\n",
            "b.yaml": "name: b\ntrigger:\n  http: {auth: none, path: /healthz}\n",
            "c.yaml": "name: c\ntrigger:\n  http: {auth: none, path: '/c/{1bad}'}\n",
            "d.yaml": "name: d\ntrigger:\n  http: {auth: none, path: /d, mode: later}\n",
            "e.yaml": "name: e\ntrigger:\n  http: {auth: none, path: /e, max_body: -1}\n",
        },
    )
    assert problems == [
        "a.yaml:3 trigger.http.method: Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'",
        "b.yaml:3 trigger.http.path: paths under /api, /healthz, /readyz, /metrics are reserved "
        "for Wharf itself",
        "c.yaml:3 trigger.http.path: a path starts with '/' and holds URL-safe segments or "
        "{name} parameters",
        "d.yaml:3 trigger.http.mode: Input should be 'sync' or 'async'",
        "e.yaml:3 trigger.http.max_body: Input should be greater than or equal to 0",
    ]


class Boom(Step):
    """Not registered: stands in for a step with a bug."""

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        raise RuntimeError("password=hunter2 at /etc/secret.conf")


async def test_unexpected_failure_hides_its_details(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    directory = write_files(fresh_dir(tmp_path), {"json.yaml": PROCESSES["json.yaml"]})
    (process,) = load_processes(directory)
    boom = Boom()
    boom.bind("steps[1].boom")
    process.pipeline.steps.append(boom)
    client = await admin_client(
        aiohttp_client, create_app([process], Settings(admin_key=ADMIN_KEY, store="sqlite://"))
    )
    response = await client.post("/json", json={"a": 1})
    body = await problem(response, 500)
    execution_id = response.headers["X-Execution-Id"]
    assert body == {
        "type": "urn:wharf:problem:step-failed",
        "title": "Step failed",
        "status": 500,
        "detail": f"a step failed unexpectedly; see execution {execution_id}",
        "execution_id": execution_id,
        "step": "steps[1].boom",
    }
    assert "hunter2" not in await response.text()


def test_a_repeated_path_parameter_is_a_load_error(tmp_path: Path) -> None:
    """`wharf validate` must refuse what `wharf run` cannot mount (aiohttp refuses a path
    whose parameter names repeat), so a validated directory always starts."""
    files = {"n.yaml": "name: n\ntrigger:\n  http:\n    path: '/n/{id}/items/{id}'\n"}
    processes, problems = validate_files(tmp_path, files)
    assert len(problems) == 1, processes
    assert problems[0].startswith("n.yaml:4 trigger.http.path: ")


BIG_NUMBERS = (
    b'{"id": 123456789012345678901234567890, "neg": -98765432109876543210987654321, '
    b'"u64": 18446744073709551615, "i64": -9223372036854775808, '
    b'"past_u64": 18446744073709551616, "f": 1.5, "digits": "12345678901234567890123", '
    b'"nested": [[340282366920938463463374607431768211456]]}'
)


async def test_integers_beyond_64_bits_come_back_exactly(client: Client) -> None:
    response = await client.post(
        "/json", data=BIG_NUMBERS, headers={"Content-Type": "application/json"}
    )
    assert response.status == 200, await response.text()
    # Compared as text: a float on the way would print as 1.2345678901234568e+29.
    text = await response.text()
    for literal in (
        "123456789012345678901234567890",
        "-98765432109876543210987654321",
        "18446744073709551615",
        "-9223372036854775808",
        "18446744073709551616",
        "340282366920938463463374607431768211456",
    ):
        assert literal in text
    assert "e+" not in text
    assert await response.json() == {"got": json.loads(BIG_NUMBERS)}
