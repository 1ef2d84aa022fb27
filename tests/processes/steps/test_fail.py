"""processes.steps.fail: a declared failure with status, title, detail and problem type."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import Document
from runtime.core.engine import ExecutionStatus
from runtime.core.errors import ProcessFailure
from tests.helpers import run_steps, validate_files


async def test_fail_with_everything_declared(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - fail:
            status: 422
            title: Invalid order
            detail: "Order {{ doc.id }} has no lines"
            problem: invalid-order
        - set: {properties: {never: true}}
        """,
        Document.json({"id": "A-1"}),
        Document.json({"id": "A-2"}),
    )
    execution = result.execution
    assert execution.status is ExecutionStatus.FAILED
    assert result.documents == []
    assert [e.step for e in execution.trace] == ["steps[0].fail"]
    error = execution.error
    assert error is not None
    assert (error.status, error.title, error.problem) == (422, "Invalid order", "invalid-order")
    assert error.detail == "steps[0].fail: Order A-1 has no lines"  # over the first document
    root = error.root
    assert isinstance(root, ProcessFailure)
    assert root.detail == "Order A-1 has no lines"
    assert execution.error_summary() == {
        "type": "ProcessFailure",
        "message": "steps[0].fail: Order A-1 has no lines",
        "step": "steps[0].fail",
    }


async def test_fail_defaults(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, "- fail: {}", Document.json({}))
    error = result.execution.error
    assert error is not None
    assert (error.status, error.title, error.problem) == (500, "Process failed", "process-failure")
    assert error.root.detail == "Process failed"  # type: ignore[attr-defined]


async def test_fail_detail_from_an_expression_and_a_literal(tmp_path: Path) -> None:
    expression = await run_steps(
        tmp_path, "- fail: {status: 409, detail: doc.reason}", Document.json({"reason": "dup"})
    )
    assert expression.execution.error is not None
    assert expression.execution.error.detail == "steps[0].fail: dup"
    literal = await run_steps(tmp_path, "- fail: {detail: 42}", Document.json({}))
    assert literal.execution.error is not None
    assert literal.execution.error.detail == "steps[0].fail: 42"


async def test_fail_without_documents(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - split: {items: doc}
        - fail: {status: 404, detail: "'nothing ' ~ (doc is none)"}
        """,
        Document.json([]),
    )
    assert result.execution.error is not None
    assert result.execution.error.detail == "steps[1].fail: nothing True"
    assert result.execution.error.status == 404


def test_fail_status_must_be_an_error(tmp_path: Path) -> None:
    header = "trigger: {http: {auth: none, path: /%s}}\nsteps:\n"
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\n" + header % "a" + "  - fail: {status: 302}\n",
            "b.yaml": "name: b\n" + header % "b" + "  - fail: {status: 600}\n",
        },
    )
    assert problems == [
        "a.yaml:4 steps[0].fail.status: Input should be greater than or equal to 400",
        "b.yaml:4 steps[0].fail.status: Input should be less than or equal to 599",
    ]
