"""processes.steps.set: properties from expressions, templates and literals."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import Document
from runtime.core.engine import ExecutionStatus
from tests.helpers import run_steps


async def test_set_properties_of_every_kind(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - set:
            properties:
              total: doc.amount * 2
              label: "Order {{ doc.id }} ({{ props.tenant }})"
              literal_int: 7
              literal_bool: false
              literal_null: null
              quoted: "'EUR'"
              outstatuscode: 201
              outheader_X-Order: doc.id
        """,
        Document.json({"id": "A-1", "amount": 21}, {"tenant": "acme"}),
    )
    (document,) = result.documents
    assert document.properties == {
        "tenant": "acme",
        "total": 42,
        "label": "Order A-1 (acme)",
        "literal_int": 7,
        "literal_bool": False,
        "literal_null": None,
        "quoted": "EUR",
        "outstatuscode": 201,
        "outheader_X-Order": "A-1",
    }
    assert document.body == {"id": "A-1", "amount": 21}


async def test_values_see_the_document_before_the_step(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - set:
            properties:
              a: 1
              b: props.a | default('unset')
              n: props.n + 1
        - set:
            properties:
              c: props.a + 1
        """,
        Document.json({}, {"a": 10, "n": 1}),
    )
    assert result.documents[0].properties == {"a": 1, "b": 10, "n": 2, "c": 2}


async def test_each_document_gets_its_own_values(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        "- set: {properties: {double: doc.n * 2}}",
        Document.json({"n": 1}),
        Document.json({"n": 5}),
    )
    assert [d.properties["double"] for d in result.documents] == [2, 10]


async def test_a_missing_field_fails_the_step(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path, "- set: {properties: {x: doc.nope}}", Document.json({"a": 1})
    )
    execution = result.execution
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error_summary() == {
        "type": "ExpressionError",
        "message": "steps[0].set: 'doc.nope': 'dict object' has no attribute 'nope'",
        "step": "steps[0].set",
    }
    assert execution.error is not None and execution.error.status == 500
