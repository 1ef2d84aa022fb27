"""runtime.web.answers: how an execution's documents become the HTTP answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Client, ClientFactory, app_client

PROCESSES = {
    "shaped.yaml": """
        name: shaped
        trigger: {http: {auth: none, method: POST, path: /shaped, input: json}}
        steps:
          - set:
              properties:
                outstatuscode: doc.status
                outheader_X-Order-Id: doc.id
                outheader_Location: "/orders/{{ doc.id }}"
                outheader_Content-Length: "'999'"
                outheader_Transfer-Encoding: "'chunked'"
                outheader_X-Injected: "'a\\nSet-Cookie: evil=1'"
                outheader_X-None: null
          - map: {fields: {id: doc.id}}
    """,
    "configured.yaml": """
        name: configured
        trigger: {http: {auth: none, method: POST, path: '/configured/{tenant}', input: json}}
        steps:
          - map: {fields: {id: doc.id}}
        response:
          status: 201
          headers:
            X-Tenant: props.param_tenant
            X-Summary: "order {{ doc.id }}"
            X-Literal: 5
          media_type: application/vnd.acme+json
    """,
    "array.yaml": """
        name: array
        trigger: {http: {auth: none, method: POST, path: /array, input: json_multiple}}
        steps:
          - map: {fields: {n: doc}}
    """,
    "first.yaml": """
        name: first
        trigger: {http: {auth: none, method: POST, path: /first, input: json_multiple}}
        steps:
          - set: {properties: {outheader_X-N: doc}}
          - map: {fields: {n: doc}}
        response: {multiple: first}
    """,
    "concat.yaml": """
        name: concat
        trigger: {http: {auth: none, method: POST, path: /concat, input: json_multiple}}
        steps:
          - template: {text: "{{ doc }};", media_type: text/csv}
        response: {multiple: concat}
    """,
    "concat_json.yaml": """
        name: concat-json
        trigger: {http: {auth: none, method: POST, path: /concat-json, input: json_multiple}}
        steps:
          - map: {fields: {n: doc}}
        response: {multiple: concat}
    """,
    "xml_array.yaml": """
        name: xml-array
        trigger: {http: {auth: none, method: POST, path: /xml-array, input: xml}}
        steps:
          - split: {xpath: /order/line}
    """,
    "empty.yaml": """
        name: empty
        trigger: {http: {auth: none, method: POST, path: /empty, input: json_multiple}}
        steps:
          - route:
              routes:
                - when: doc.keep
                  steps:
                    - map: {fields: {kept: true}}
              default:
                - split: {items: "[]"}
    """,
    "empty_status.yaml": """
        name: empty-status
        trigger: {http: {auth: none, method: POST, path: /empty-status, input: json_multiple}}
        response: {empty_status: 404}
    """,
    "raw.yaml": """
        name: raw
        trigger: {http: {auth: none, method: POST, path: /raw, input: raw}}
    """,
}


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> Client:
    return await app_client(aiohttp_client, tmp_path, PROCESSES)


async def test_outstatuscode_and_outheaders_shape_the_answer(client: Client) -> None:
    response = await client.post("/shaped", json={"id": "A-1", "status": 201})
    assert response.status == 201
    assert await response.json() == {"id": "A-1"}
    assert response.headers["X-Order-Id"] == "A-1"
    assert response.headers["Location"] == "/orders/A-1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(b'{"id":"A-1"}'))
    assert "Transfer-Encoding" not in response.headers
    assert "X-Injected" not in response.headers  # a header value with a newline is dropped
    assert "Set-Cookie" not in response.headers
    assert "X-None" not in response.headers
    assert response.headers["X-Execution-Id"]


async def test_header_values_with_control_characters_still_get_an_answer(
    client: Client,
) -> None:
    """A header value from request data with CR must not break the answer (it is dropped,
    as a value with LF is): the caller still gets a proper HTTP response."""
    for value in ("a\rb", "a\r\nSet-Cookie: evil=1", "a\nb"):
        response = await client.post("/shaped", json={"id": value, "status": 200})
        assert response.status == 200, repr(value)
        assert "Set-Cookie" not in response.headers
        assert not any(c in response.headers.get("X-Order-Id", "") for c in "\r\n")


@pytest.mark.parametrize(
    ("status", "expected"), [("202", 202), (299, 299), (599, 599), (100, 200), ("x", 200)]
)
async def test_outstatuscode_values(client: Client, status: Any, expected: int) -> None:
    response = await client.post("/shaped", json={"id": "A", "status": status})
    assert response.status == expected


async def test_outstatuscode_204_sends_no_body(client: Client) -> None:
    response = await client.post("/shaped", json={"id": "A", "status": 204})
    assert response.status == 204
    assert await response.read() == b""


async def test_response_config(client: Client) -> None:
    response = await client.post("/configured/acme", json={"id": "A-7"})
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/vnd.acme+json"
    assert response.headers["X-Tenant"] == "acme"
    assert response.headers["X-Summary"] == "order A-7"
    assert response.headers["X-Literal"] == "5"
    assert await response.read() == b'{"id":"A-7"}'


async def test_multiple_array(client: Client) -> None:
    response = await client.post("/array", json=[1, 2, 3])
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert await response.read() == b'[{"n":1},{"n":2},{"n":3}]'
    single = await client.post("/array", json=[1])
    assert await single.read() == b'{"n":1}'  # one document is its own body


async def test_multiple_first(client: Client) -> None:
    response = await client.post("/first", json=[10, 20, 30])
    assert await response.read() == b'{"n":10}'
    assert response.headers["X-N"] == "10"  # headers come from the first document


async def test_multiple_concat(client: Client) -> None:
    response = await client.post("/concat", json=["a", "b", "c"])
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert await response.text() == "a;b;c;"
    as_json = await client.post("/concat-json", json=[1, 2])
    assert await as_json.read() == b'{"n":1}{"n":2}'


async def test_xml_documents_answer_in_a_response_wrapper(client: Client) -> None:
    xml = b'<order><line n="1"/><line n="2">x</line></order>'
    response = await client.post("/xml-array", data=xml, headers={"Content-Type": "text/xml"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/xml"
    assert await response.read() == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<Response><line n="1"/><line n="2">x</line></Response>'
    )
    one = await client.post(
        "/xml-array", data=b"<order><line/></order>", headers={"Content-Type": "text/xml"}
    )
    assert await one.read() == b"<?xml version='1.0' encoding='UTF-8'?>\n<line/>"


async def test_empty_result_is_204(client: Client) -> None:
    response = await client.post("/empty", json=[{"keep": False}, {"keep": False}])
    assert response.status == 204
    assert await response.read() == b""
    assert response.headers["X-Execution-Id"]
    kept = await client.post("/empty", json=[{"keep": False}, {"keep": True}])
    assert kept.status == 200
    assert await kept.json() == {"kept": True}


async def test_empty_status_is_configurable(client: Client) -> None:
    response = await client.post("/empty-status", json=[])
    assert response.status == 404
    assert await response.read() == b""


async def test_raw_documents_keep_their_media_type(client: Client) -> None:
    response = await client.post(
        "/raw", data=b"\x00\x01binary", headers={"Content-Type": "image/png"}
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert await response.read() == b"\x00\x01binary"
    text = await client.post("/raw", data=b"hi", headers={"Content-Type": "text/plain"})
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
