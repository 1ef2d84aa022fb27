"""processes.steps.split: by JSON items or by XPath, with split_index / split_count."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from runtime.core.document import BodyKind, Document
from runtime.core.engine import ExecutionStatus
from runtime.formats.codecs import parse_xml
from tests.helpers import run_steps, validate_files

PO = b"""<po:order xmlns:po="urn:po" id="PO-1">
  <po:line n="1"><po:sku>A</po:sku></po:line>
  <po:line n="2"><po:sku>B</po:sku></po:line>
  <po:line n="3"><po:sku>C</po:sku></po:line>
</po:order>"""


async def test_split_by_items(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- split: {items: doc.lines}",
        Document.json({"lines": [{"sku": "A"}, {"sku": "B"}, 7]}, {"tenant": "acme"}),
    )
    assert [d.body for d in result.documents] == [{"sku": "A"}, {"sku": "B"}, 7]
    assert [d.properties for d in result.documents] == [
        {"tenant": "acme", "split_index": 0, "split_count": 3},
        {"tenant": "acme", "split_index": 1, "split_count": 3},
        {"tenant": "acme", "split_index": 2, "split_count": 3},
    ]
    assert all(d.kind is BodyKind.JSON for d in result.documents)
    assert (result.execution.documents_in, result.execution.documents_out) == (1, 3)


async def test_each_input_document_is_counted_on_its_own(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- split: {items: doc}",
        Document.json(["a", "b"]),
        Document.json([]),
        Document.json(["c"]),
    )
    assert [(d.body, d.properties["split_index"], d.properties["split_count"]) for d in
            result.documents] == [("a", 0, 2), ("b", 1, 2), ("c", 0, 1)]  # fmt: skip


async def test_split_then_map_uses_the_properties(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - split: {items: doc.lines}
        - map: {fields: {sku: doc, pos: "{{ props.split_index + 1 }}/{{ props.split_count }}"}}
        """,
        Document.json({"lines": ["A", "B"]}),
    )
    assert [d.body for d in result.documents] == [
        {"sku": "A", "pos": "1/2"},
        {"sku": "B", "pos": "2/2"},
    ]


async def test_split_by_xpath_with_namespaces(tmp_path: Path) -> None:
    source = Document.xml(parse_xml(PO), {"k": 1})
    result = await run_steps(
        tmp_path, "- split: {xpath: '/p:order/p:line'}", source, namespaces={"p": "urn:po"}
    )
    assert len(result.documents) == 3
    for index, document in enumerate(result.documents):
        assert document.kind is BodyKind.XML
        assert document.media_type == "application/xml"
        assert etree.QName(document.body).text == "{urn:po}line"
        assert document.body.get("n") == str(index + 1)
        assert document.body.getparent() is None  # a detached copy, a document of its own
        assert document.properties == {"k": 1, "split_index": index, "split_count": 3}
    assert [d.body.findtext("{urn:po}sku") for d in result.documents] == ["A", "B", "C"]
    # The original tree is untouched.
    assert len(source.body) == 3


async def test_split_by_xpath_with_no_match(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- split: {xpath: '//nothing'}", Document.xml(parse_xml(PO)))
    assert result.documents == []
    assert result.execution.status is ExecutionStatus.SUCCEEDED


async def test_split_failures(tmp_path: Path) -> None:
    not_list = await run_steps(tmp_path, "- split: {items: doc.n}", Document.json({"n": 1}))
    assert not_list.execution.error is not None
    assert (
        not_list.execution.error.detail
        == "steps[0].split: split items 'doc.n' gave int, not a list"
    )

    not_xml = await run_steps(tmp_path, "- split: {xpath: /a}", Document.json({}))
    assert not_xml.execution.error is not None
    assert not_xml.execution.error.detail == (
        "steps[0].split: split by xpath needs an XML document, not json"
    )

    attributes = await run_steps(tmp_path, "- split: {xpath: '//@n'}", Document.xml(parse_xml(PO)))
    assert attributes.execution.error is not None
    assert attributes.execution.error.detail == (
        "steps[0].split: split xpath must select elements, not text or attributes"
    )

    number = await run_steps(
        tmp_path, "- split: {xpath: 'count(//*)'}", Document.xml(parse_xml(PO))
    )
    assert number.execution.error is not None
    assert number.execution.error.detail == "steps[0].split: split xpath must select elements"


def test_split_configuration(tmp_path: Path) -> None:
    header = "trigger: {http: {auth: none, path: /%s}}\nsteps:\n"
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\n" + header % "a" + "  - split: {}\n",
            "b.yaml": "name: b\n" + header % "b" + "  - split: {xpath: '//['}\n",
            "c.yaml": "name: c\n" + header % "c" + "  - split: {xpath: '//x:line'}\n",
        },
    )
    assert problems[0] == "a.yaml:4 steps[0].split: give exactly one of `items` or `xpath`"
    assert problems[1].startswith("b.yaml:4 steps[0].split.xpath: invalid XPath '//['")
    # An undeclared prefix is caught when the XPath is compiled at load, not at run time
    # as an internal error.
    assert problems[2] == (
        "c.yaml:4 steps[0].split.xpath: "
        "namespace prefix 'x' in '//x:line' is not declared in `namespaces`"
    )
    assert len(problems) == 3


async def test_split_by_xml_lang_needs_no_namespace_declaration(tmp_path: Path) -> None:
    xml = b'<texts><t xml:lang="en">hi</t><t xml:lang="de">hallo</t><t>none</t></texts>'
    result = await run_steps(
        tmp_path, "- split: {xpath: '//t[@xml:lang]'}", Document.xml(parse_xml(xml))
    )
    assert [d.body.text for d in result.documents] == ["hi", "hallo"]
