"""processes.steps.map: new JSON documents from nested shapes, `$each` and `$fields`."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import BodyKind, Document
from runtime.core.engine import ExecutionStatus
from runtime.formats.codecs import parse_xml
from tests.helpers import run_steps, validate_files

ORDER = {
    "id": "A-1",
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "lines": [
        {"sku": "X1", "qty": 2, "price": 1.5, "tags": ["a", "b"]},
        {"sku": "Y2", "qty": 1, "price": 4, "tags": []},
    ],
}


async def test_nested_shapes(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - map:
            fields:
              order_id: doc.id
              summary: "Order {{ doc.id }} for {{ doc.customer.name }}"
              currency: "'EUR'"
              version: 2
              urgent: false
              note: null
              buyer:
                name: doc.customer.name
                contact:
                  email: doc.customer.email
                  phone: doc.customer.phone | default(none)
              pair: [doc.id, 1, "{{ doc.lines | length }} lines"]
              tenant: props.param_tenant
        """,
        Document.json(ORDER, {"param_tenant": "acme"}),
    )
    (document,) = result.documents
    assert document.kind is BodyKind.JSON
    assert document.media_type == "application/json"
    assert document.body == {
        "order_id": "A-1",
        "summary": "Order A-1 for Ada",
        "currency": "EUR",
        "version": 2,
        "urgent": False,
        "note": None,
        "buyer": {"name": "Ada", "contact": {"email": "ada@example.com", "phone": None}},
        "pair": ["A-1", 1, "2 lines"],
        "tenant": "acme",
    }
    # Properties carry over; the input document is not modified.
    assert document.properties == {"param_tenant": "acme"}
    assert ORDER["id"] == "A-1" and "order_id" not in ORDER


async def test_each_repeats_fields_per_item(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - map:
            fields:
              id: doc.id
              lines:
                $each: doc.lines
                $fields:
                  line: index + 1
                  sku: item.sku
                  total: item.qty * item.price
                  order: doc.id
                  tags:
                    $each: item.tags
                    $fields: {tag: item, position: index}
        """,
        Document.json(ORDER),
    )
    assert result.documents[0].body == {
        "id": "A-1",
        "lines": [
            {
                "line": 1,
                "sku": "X1",
                "total": 3.0,
                "order": "A-1",
                "tags": [{"tag": "a", "position": 0}, {"tag": "b", "position": 1}],
            },
            {"line": 2, "sku": "Y2", "total": 4, "order": "A-1", "tags": []},
        ],
    }


async def test_each_with_a_scalar_shape(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - map:
            fields:
              skus: {$each: doc.lines, $fields: item.sku}
              labels: {$each: doc.lines, $fields: "{{ index }}:{{ item.sku }}"}
        """,
        Document.json(ORDER),
    )
    assert result.documents[0].body == {"skus": ["X1", "Y2"], "labels": ["0:X1", "1:Y2"]}


async def test_each_over_xml_nodes(tmp_path: Path) -> None:
    xml = b"""<po:order xmlns:po="urn:po" id="PO-1">
      <po:line><po:sku>A</po:sku><po:qty>3</po:qty></po:line>
      <po:line><po:sku>B</po:sku><po:qty>5</po:qty></po:line>
    </po:order>"""
    result = await run_steps(
        tmp_path,
        """
        - map:
            fields:
              id: xpath('/p:order/@id')
              count: xpath('count(//p:line)') | int
              lines:
                $each: xpath_nodes('/p:order/p:line')
                $fields:
                  sku: xpath('p:sku', item)
                  qty: xpath('number(p:qty)', item) | int
        """,
        Document.xml(parse_xml(xml)),
        namespaces={"p": "urn:po"},
    )
    assert result.documents[0].body == {
        "id": "PO-1",
        "count": 2,
        "lines": [{"sku": "A", "qty": 3}, {"sku": "B", "qty": 5}],
    }


async def test_each_over_a_non_list_fails(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- map: {fields: {x: {$each: doc.id, $fields: item}}}",
        Document.json(ORDER),
    )
    assert result.execution.status is ExecutionStatus.FAILED
    assert result.execution.error is not None
    assert result.execution.error.detail == "steps[0].map: $each 'doc.id' gave str, not a list"
    assert result.execution.error.problem == "document-error"


async def test_map_over_several_documents(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- map: {fields: {n: doc.n * 10}}",
        Document.json({"n": 1}),
        Document.json({"n": 2}),
    )
    assert [d.body for d in result.documents] == [{"n": 10}, {"n": 20}]


async def test_missing_field_fails_with_the_expression(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- map: {fields: {a: doc.a.b}}", Document.json({}))
    assert result.execution.error is not None
    assert result.execution.error.detail == (
        "steps[0].map: 'doc.a.b': 'dict object' has no attribute 'a'"
    )


def test_shape_mistakes_are_load_errors(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": """
                name: a
                trigger: {http: {auth: none, path: /a}}
                steps:
                  - map:
                      fields:
                        lines:
                          $each: doc.lines
                          $fields: {sku: item.sku}
                          extra: 1
            """,
            "b.yaml": """
                name: b
                trigger: {http: {auth: none, path: /b}}
                steps:
                  - map:
                      fields:
                        lines:
                          $each: 5
                          $fields: {sku: item.sku}
            """,
            "c.yaml": """
                name: c
                trigger: {http: {auth: none, path: /c}}
                steps:
                  - map:
                      fields:
                        outside: item.sku
            """,
        },
    )
    assert problems[0] == (
        "a.yaml:6 steps[0].map.fields.lines: "
        "a repeating part has exactly the keys $each and $fields"
    )
    assert (
        problems[1]
        == "b.yaml:7 steps[0].map.fields.lines.$each: $each is an expression yielding a list"
    )
    assert problems[2].startswith(
        "c.yaml:6 steps[0].map.fields.outside: unknown name(s) item in 'item.sku'"
    )
    assert len(problems) == 3
