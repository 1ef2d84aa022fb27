"""processes.steps.serialize: JSON values and XML trees back to raw bytes."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import BodyKind, Document
from runtime.formats.codecs import parse_xml
from tests.helpers import run_steps


async def test_serialize_json(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path, "- serialize: {format: json}", Document.json({"a": [1, None]}, {"k": 1})
    )
    (document,) = result.documents
    assert (document.kind, document.body, document.media_type) == (
        BodyKind.RAW,
        b'{"a":[1,null]}',
        "application/json",
    )
    assert document.properties == {"k": 1}


async def test_serialize_json_pretty(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path, "- serialize: {format: json, pretty: true}", Document.json({"a": 1})
    )
    assert result.documents[0].body == b'{\n  "a": 1\n}'


async def test_serialize_xml(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- serialize: {format: xml, pretty: true}",
        Document.xml(parse_xml(b"<a><b>x</b></a>")),
    )
    (document,) = result.documents
    assert document.kind is BodyKind.RAW
    assert document.media_type == "application/xml"
    assert document.body == b"<?xml version='1.0' encoding='UTF-8'?>\n<a>\n  <b>x</b>\n</a>\n"


async def test_parse_then_serialize_round_trip(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - parse: {format: xml}
        - serialize: {format: xml}
        """,
        Document.raw(b'<r xmlns="urn:x" a="1"><c>t</c></r>'),
    )
    assert result.documents[0].body == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<r xmlns=\"urn:x\" a=\"1\"><c>t</c></r>"
    )


async def test_wrong_kind_fails(tmp_path: Path) -> None:
    as_json = await run_steps(tmp_path, "- serialize: {format: json}", Document.text("x"))
    assert as_json.execution.error is not None
    assert as_json.execution.error.detail == (
        "steps[0].serialize: serialize json needs a JSON document, not text"
    )
    as_xml = await run_steps(tmp_path, "- serialize: {format: xml}", Document.json({}))
    assert as_xml.execution.error is not None
    assert as_xml.execution.error.detail == (
        "steps[0].serialize: serialize xml needs an XML document, not json"
    )
