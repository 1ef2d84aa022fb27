"""runtime.core.engine: executions, their per-step trace, and failures with step paths."""

from __future__ import annotations

import time
from pathlib import Path

from runtime.core.components import Step, StepContext
from runtime.core.document import Document
from runtime.core.engine import Execution, ExecutionStatus, StepTrace
from runtime.core.errors import ProcessFailure, StepError
from tests.helpers import load_process, steps_process

ROUTED = """
    name: routed
    trigger:
      http: {auth: none, path: /routed}
    steps:
      - set:
          properties: {seen: true}
      - route:
          routes:
            - when: doc.amount >= 1000
              steps:
                - set: {properties: {approval: "'manual'"}}
            - when: doc.amount < 0
              steps:
                - fail: {status: 422, title: Invalid order, detail: "'negative: ' ~ doc.amount"}
          default:
            - set: {properties: {approval: "'automatic'"}}
      - split: {items: doc.lines}
      - map:
          fields: {sku: doc.sku, approval: props.approval}
"""


def steps_of(execution: Execution) -> list[str]:
    return [entry.step for entry in execution.trace]


async def test_trace_of_a_successful_execution(tmp_path: Path) -> None:
    process = load_process(tmp_path, ROUTED)
    before = time.time()
    result = await process.execute(
        [Document.json({"amount": 1500, "lines": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]})]
    )
    execution = result.execution
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.error is None
    assert execution.process == "routed"
    assert execution.started_by == "listener"
    assert steps_of(execution) == [
        "steps[0].set",
        "steps[1].route",
        "steps[1].route.routes[0].steps[0].set",
        "steps[2].split",
        "steps[3].map",
    ]
    counts = [(e.documents_in, e.documents_out) for e in execution.trace]
    assert counts == [(1, 1), (1, 1), (1, 1), (1, 3), (3, 3)]
    assert all(entry.error is None for entry in execution.trace)
    assert all(entry.duration_ms >= 0 for entry in execution.trace)
    assert all(entry.started_at >= before for entry in execution.trace)
    assert (execution.documents_in, execution.documents_out) == (1, 3)
    assert [doc.body for doc in result.documents] == [
        {"sku": "A", "approval": "manual"},
        {"sku": "B", "approval": "manual"},
        {"sku": "C", "approval": "manual"},
    ]
    assert execution.started_at is not None and execution.finished_at is not None
    assert before <= execution.started_at <= execution.finished_at
    assert execution.duration_ms is not None and execution.duration_ms >= 0


async def test_default_branch_path_in_trace(tmp_path: Path) -> None:
    process = load_process(tmp_path, ROUTED)
    result = await process.execute([Document.json({"amount": 5, "lines": []})])
    assert steps_of(result.execution) == [
        "steps[0].set",
        "steps[1].route",
        "steps[1].route.default[0].set",
        "steps[2].split",
        "steps[3].map",
    ]
    assert result.execution.status is ExecutionStatus.SUCCEEDED
    assert result.documents == []
    assert (result.execution.documents_in, result.execution.documents_out) == (1, 0)


async def test_failure_is_recorded_with_the_step_path(tmp_path: Path) -> None:
    process = load_process(tmp_path, ROUTED)
    result = await process.execute(
        [Document.json({"amount": -5, "lines": []})], started_by="api", execution_id="exec-1"
    )
    execution = result.execution
    assert execution.id == "exec-1"
    assert execution.started_by == "api"
    assert execution.status is ExecutionStatus.FAILED
    assert result.documents == []
    assert (execution.documents_in, execution.documents_out) == (1, 0)
    # Steps after the failure never ran.
    assert steps_of(execution) == [
        "steps[0].set",
        "steps[1].route",
        "steps[1].route.routes[1].steps[0].fail",
    ]
    detail = "steps[1].route.routes[1].steps[0].fail: negative: -5"
    assert [entry.error for entry in execution.trace] == [None, detail, detail]
    assert execution.trace[2].documents_out == 0
    error = execution.error
    assert isinstance(error, StepError)
    assert error.step_path == "steps[1].route.routes[1].steps[0].fail"
    assert error.status == 422
    assert error.problem == "process-failure"
    assert isinstance(error.root, ProcessFailure)
    assert execution.error_summary() == {
        "type": "ProcessFailure",
        "message": detail,
        "step": "steps[1].route.routes[1].steps[0].fail",
    }


async def test_summary(tmp_path: Path) -> None:
    process = load_process(tmp_path, ROUTED)
    result = await process.execute([Document.json({"amount": -1, "lines": []})])
    summary = result.execution.summary()
    assert summary["id"] == result.execution.id
    assert summary["process"] == "routed"
    assert summary["trigger"] == "listener"
    assert summary["status"] == "failed"
    assert (summary["documents_in"], summary["documents_out"]) == (1, 0)
    assert summary["error"]["step"] == "steps[1].route.routes[1].steps[0].fail"
    assert summary["duration_ms"] == result.execution.duration_ms
    assert [entry["step"] for entry in summary["trace"]] == steps_of(result.execution)
    assert set(summary["trace"][0]) == {
        "step",
        "duration_ms",
        "documents_in",
        "documents_out",
        "error",
    }
    assert summary["trace"][0]["error"] is None


async def test_execution_ids_are_unique(tmp_path: Path) -> None:
    process = load_process(tmp_path, ROUTED)
    doc = {"amount": 1, "lines": []}
    ids = {(await process.execute([Document.json(dict(doc))])).execution.id for _ in range(20)}
    assert len(ids) == 20


async def test_no_steps_passes_documents_through(tmp_path: Path) -> None:
    process = load_process(tmp_path, "name: empty\ntrigger: {http: {auth: none, path: /e}}\n")
    document = Document.json({"a": 1})
    result = await process.execute([document])
    assert result.documents == [document]
    assert result.execution.trace == []
    assert result.execution.status is ExecutionStatus.SUCCEEDED
    empty = await process.execute([])
    assert (empty.execution.documents_in, empty.execution.documents_out) == (0, 0)


class Boom(Step):
    """Not registered: a stand-in for a step with a bug."""

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        raise RuntimeError("secret internals /etc/app.conf")


async def test_unexpected_exception_is_wrapped_without_its_text(tmp_path: Path) -> None:
    process = steps_process(tmp_path, "- set: {properties: {a: 1}}")
    boom = Boom()
    boom.bind("steps[1].boom")
    process.pipeline.steps.append(boom)
    result = await process.execute([Document.json({})])
    execution = result.execution
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.detail == "steps[1].boom: internal error (RuntimeError)"
    assert execution.error.status == 500
    assert isinstance(execution.error.root, RuntimeError)
    assert execution.error_summary() == {
        "type": "RuntimeError",
        "message": "steps[1].boom: internal error (RuntimeError)",
        "step": "steps[1].boom",
    }
    assert "secret" not in str(execution.summary())
    assert execution.trace[-1].error == "steps[1].boom: internal error (RuntimeError)"


def test_step_trace_as_dict_rounds_duration() -> None:
    entry = StepTrace("steps[0].set", 1.0, 1.23456789, 2, 3, None)
    assert entry.as_dict() == {
        "step": "steps[0].set",
        "duration_ms": 1.235,
        "documents_in": 2,
        "documents_out": 3,
        "error": None,
    }


def test_execution_before_it_runs() -> None:
    execution = Execution("p", "listener")
    assert execution.status is ExecutionStatus.QUEUED
    assert execution.duration_ms is None
    assert execution.error_summary() is None
    assert len(execution.id) >= 16
