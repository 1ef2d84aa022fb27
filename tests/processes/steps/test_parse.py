"""processes.steps.parse: raw or text bodies to JSON values or XML trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from runtime.core.document import BodyKind, Document
from runtime.core.engine import ExecutionStatus
from tests.helpers import run_steps, validate_files


async def test_parse_json_from_raw_and_text(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- parse: {format: json}",
        Document.raw(b'{"a": [1, 2]}', "text/plain", {"k": "v"}),
        Document.text('"just a string"'),
    )
    first, second = result.documents
    assert (first.kind, first.body, first.media_type) == (
        BodyKind.JSON,
        {"a": [1, 2]},
        "application/json",
    )
    assert first.properties == {"k": "v"}
    assert (second.kind, second.body) == (BodyKind.JSON, "just a string")


async def test_parse_xml(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- parse: {format: xml}",
        Document.text('<order xmlns="urn:po" id="7"><line/></order>', "text/xml"),
    )
    (document,) = result.documents
    assert document.kind is BodyKind.XML
    assert document.media_type == "application/xml"
    assert etree.QName(document.body).text == "{urn:po}order"
    assert document.body.get("id") == "7"


@pytest.mark.parametrize(
    ("fmt", "body", "message"),
    [
        (
            "json",
            b'{"a": ',
            "the body is not valid JSON: unexpected end of data: line 1 column 7 (char 6)",
        ),
        ("xml", b"<!DOCTYPE a><a/>", "DOCTYPE declarations are not allowed"),
        ("xml", b"", "the body is empty, an XML document was expected"),
    ],
)
async def test_malformed_bodies_fail_with_400(
    tmp_path: Path, fmt: str, body: bytes, message: str
) -> None:
    result = await run_steps(tmp_path, f"- parse: {{format: {fmt}}}", Document.raw(body))
    execution = result.execution
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.detail == f"steps[0].parse: {message}"
    assert execution.error.status == 400
    assert execution.error.problem == f"malformed-{fmt}"


async def test_parse_refuses_an_already_parsed_document(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- parse: {format: json}", Document.json({"a": 1}))
    assert result.execution.error is not None
    assert result.execution.error.detail == (
        "steps[0].parse: parse needs a raw or text body, this document is json"
    )


async def test_parse_csv_rows_keyed_by_the_header(tmp_path: Path) -> None:
    body = '\ufefforder_id; sku ;qty\r\nA-1;BOLT;5\n\nA-2;"NUT;M8";7\n'.encode()
    result = await run_steps(
        tmp_path,
        '- parse: {format: csv, delimiter: ";"}',
        Document.raw(body, "text/csv", {"file_name": "o.csv"}),
    )
    (document,) = result.documents
    assert (document.kind, document.media_type) == (BodyKind.JSON, "application/json")
    assert document.body == [
        {"order_id": "A-1", "sku": "BOLT", "qty": "5"},
        {"order_id": "A-2", "sku": "NUT;M8", "qty": "7"},
    ]
    assert document.properties == {"file_name": "o.csv"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"a,b\n1,2\n3\n", "line 3 has 1 field(s), the header has 2"),
        (b"a,b\n1,2,3\n", "line 2 has 3 field(s), the header has 2"),
        (b"a,a\n1,2\n", "the header row needs distinct, non-empty names: ['a', 'a']"),
        (b"", "the body is empty, a CSV header row was expected"),
        (b"a\n\xff\n", "the body is not UTF-8 text (byte 2)"),
        (b'a,b\n"1"x,2\n', "the body is not valid CSV: line 2: ',' expected after '\"'"),
    ],
)
async def test_malformed_csv_fails_with_400(tmp_path: Path, body: bytes, message: str) -> None:
    result = await run_steps(tmp_path, "- parse: {format: csv}", Document.raw(body))
    error = result.execution.error
    assert error is not None
    assert (error.detail, error.status, error.problem) == (
        f"steps[0].parse: {message}",
        400,
        "malformed-csv",
    )


def test_a_delimiter_is_for_csv_only(tmp_path: Path) -> None:
    process = """
        name: p
        trigger: {http: {auth: none, path: /p}}
        steps:
          - parse: {format: json, delimiter: ";"}
    """
    _, problems = validate_files(tmp_path, {"p.yaml": process})
    assert problems == ["p.yaml:4 steps[0].parse: `delimiter` applies to `format: csv` only"]
