"""processes.steps.combine: many documents into one JSON array, XML wrapper or text."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import BodyKind, Document
from runtime.formats.codecs import parse_xml, serialize_xml
from tests.helpers import run_steps, validate_files


async def test_combine_json(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- combine: {}",
        Document.json({"a": 1}, {"first": True}),
        Document.json([2], {"second": True}),
        Document.json("three"),
    )
    (document,) = result.documents
    assert (document.kind, document.media_type) == (BodyKind.JSON, "application/json")
    assert document.body == [{"a": 1}, [2], "three"]
    assert document.properties == {"first": True}  # the first document's properties
    assert (result.execution.documents_in, result.execution.documents_out) == (3, 1)


async def test_split_then_combine_round_trip(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - split: {items: doc.lines}
        - map: {fields: {sku: doc.sku, index: props.split_index}}
        - combine: {format: json}
        """,
        Document.json({"lines": [{"sku": "A"}, {"sku": "B"}]}),
    )
    assert [d.body for d in result.documents] == [
        [{"sku": "A", "index": 0}, {"sku": "B", "index": 1}]
    ]


async def test_combine_xml(tmp_path: Path) -> None:
    first = Document.xml(parse_xml(b'<line n="1"/>'))
    second = Document.xml(parse_xml(b'<p:line xmlns:p="urn:p">2</p:line>'))
    result = await run_steps(tmp_path, "- combine: {root: Lines}", first, second)
    (document,) = result.documents
    assert (document.kind, document.media_type) == (BodyKind.XML, "application/xml")
    assert serialize_xml(document.body) == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<Lines><line n="1"/><p:line xmlns:p="urn:p">2</p:line></Lines>'
    )
    # Copies: the input trees are not moved into the wrapper.
    assert first.body.getparent() is None


async def test_combine_xml_default_root(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- combine: {format: xml}", Document.xml(parse_xml(b"<a/>")))
    assert result.documents[0].body.tag == "Documents"
    assert [child.tag for child in result.documents[0].body] == ["a"]


async def test_combine_text_and_raw(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- combine: {separator: ' | '}",
        Document.text("one", "text/csv"),
        Document.raw(b"two"),
        Document.text("three"),
    )
    (document,) = result.documents
    assert (document.kind, document.body, document.media_type) == (
        BodyKind.TEXT,
        "one | two | three",
        "text/csv",
    )
    default_separator = await run_steps(
        tmp_path, "- combine: {format: text}", Document.text("a"), Document.text("b")
    )
    assert default_separator.documents[0].body == "a\nb"


async def test_no_documents_in_none_out(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - split: {items: doc}
        - combine: {}
        """,
        Document.json([]),
    )
    assert result.documents == []
    assert [(e.step, e.documents_in, e.documents_out) for e in result.execution.trace] == [
        ("steps[0].split", 1, 0),
        ("steps[1].combine", 0, 0),
    ]


async def test_mixed_kinds_fail(tmp_path: Path) -> None:
    cases = [
        (
            "- combine: {}",
            [Document.json({}), Document.text("x")],
            "combine json needs JSON documents",
        ),
        ("- combine: {format: xml}", [Document.json({})], "combine xml needs XML documents"),
        (
            "- combine: {format: text}",
            [Document.text("x"), Document.json({})],
            "combine text needs text or raw documents, not json",
        ),
    ]
    for steps, documents, message in cases:
        result = await run_steps(tmp_path, steps, *documents)
        assert result.execution.error is not None
        assert result.execution.error.detail == f"steps[0].combine: {message}"


def test_an_invalid_root_name_is_a_load_error(tmp_path: Path) -> None:
    """A wrapper name that can never be an XML element is refused by `wharf validate`,
    not discovered at run time as an internal error."""
    _, problems = validate_files(
        tmp_path,
        {
            "c.yaml": """
                name: c
                trigger: {http: {auth: none, path: /c, input: xml}}
                steps:
                  - combine: {format: xml, root: 'two words'}
            """
        },
    )
    assert problems == [
        "c.yaml:4 steps[0].combine.root: String should match pattern '^[A-Za-z_][A-Za-z0-9_.-]*$'"
    ]
