"""processes.steps.try_: retries with backoff, then `catch` with the error as properties."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from processes.steps.try_ import TryStep
from runtime.core import retry
from runtime.core.components import Step, StepContext
from runtime.core.document import Document
from runtime.core.engine import ExecutionStatus
from runtime.core.errors import DocumentError
from tests.helpers import run_steps, steps_process, validate_files

FAILING = """
- try:
    retry: {attempts: 3, backoff: 0}
    steps:
      - set: {properties: {attempted: true}}
      - fail: {status: 503, title: Upstream down, detail: "'upstream said no to ' ~ doc.id"}
    catch:
      - set:
          properties:
            caught: true
            attempted_before: props.attempted | default(false)
"""


async def test_success_on_the_first_attempt(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - try:
            retry: {attempts: 5, backoff: 0}
            steps:
              - map: {fields: {n: doc.n + 1}}
            catch:
              - set: {properties: {caught: true}}
        """,
        Document.json({"n": 1}),
    )
    assert [d.body for d in result.documents] == [{"n": 2}]
    assert "caught" not in result.documents[0].properties
    assert [e.step for e in result.execution.trace] == ["steps[0].try", "steps[0].try.steps[0].map"]


async def test_every_attempt_is_counted_then_catch_runs(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, FAILING, Document.json({"id": "A-1"}, {"k": "v"}))
    execution = result.execution
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert [e.step for e in execution.trace] == [
        "steps[0].try",
        *["steps[0].try.steps[0].set", "steps[0].try.steps[1].fail"] * 3,
        "steps[0].try.catch[0].set",
    ]
    failures = [e.error for e in execution.trace if e.step.endswith(".fail")]
    assert failures == ["steps[0].try.steps[1].fail: upstream said no to A-1"] * 3
    assert execution.trace[0].error is None
    (document,) = result.documents
    assert document.body == {"id": "A-1"}
    assert document.properties == {
        "k": "v",
        "error_type": "ProcessFailure",
        "error_message": "steps[0].try.steps[1].fail: upstream said no to A-1",
        "error_step": "steps[0].try.steps[1].fail",
        "caught": True,
        # catch gets the original documents, not the failed attempt's half-changes.
        "attempted_before": False,
    }


async def test_without_catch_the_last_error_fails_the_execution(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - try:
            retry: {attempts: 2, backoff: 0}
            steps:
              - fail: {status: 503, title: Upstream down}
        - set: {properties: {after: true}}
        """,
        Document.json({}),
    )
    execution = result.execution
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.step_path == "steps[0].try.steps[0].fail"
    assert execution.error.status == 503
    assert execution.error.detail == "steps[0].try.steps[0].fail: Upstream down"
    assert [e.step for e in execution.trace] == [
        "steps[0].try",
        "steps[0].try.steps[0].fail",
        "steps[0].try.steps[0].fail",
    ]
    assert execution.trace[0].error == "steps[0].try.steps[0].fail: Upstream down"


async def test_default_is_a_single_attempt(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - try:
            steps:
              - map: {fields: {x: doc.missing}}
            catch:
              - map: {fields: {type: props.error_type, step: props.error_step}}
        """,
        Document.json({}),
    )
    assert [e.step for e in result.execution.trace].count("steps[0].try.steps[0].map") == 1
    assert result.documents[0].body == {
        "type": "ExpressionError",
        "step": "steps[0].try.steps[0].map",
    }


class FakeAsyncio:
    """Stands in for the `asyncio` module as the retry loop sees it: only `sleep` is used."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]):
        self.sleep = sleep


class Flaky(Step):
    """Fails `failures` times, scribbling on its documents first; then passes them on."""

    failures: int = 2
    calls: int = 0

    async def run(self, documents: list[Document], context: StepContext) -> list[Document]:
        self.calls += 1
        for document in documents:
            document.properties["scribbled"] = document.properties.get("scribbled", 0) + 1
        if self.calls <= self.failures:
            raise DocumentError(f"attempt {self.calls} failed")
        return documents


async def test_retry_until_success_works_on_fresh_copies(tmp_path: Path) -> None:
    process = steps_process(
        tmp_path,
        """
        - try:
            retry: {attempts: 3, backoff: 0}
            steps: []
            catch:
              - set: {properties: {caught: true}}
        """,
    )
    step = process.pipeline.steps[0]
    assert isinstance(step, TryStep)
    flaky = Flaky()
    flaky.bind("steps[0].try.steps[0].flaky")
    step._body.steps.append(flaky)
    original = Document.json({"n": 1})
    result = await process.execute([original])
    assert flaky.calls == 3
    assert result.execution.status is ExecutionStatus.SUCCEEDED
    assert [e.error for e in result.execution.trace[1:]] == [
        "steps[0].try.steps[0].flaky: attempt 1 failed",
        "steps[0].try.steps[0].flaky: attempt 2 failed",
        None,
    ]
    (document,) = result.documents
    assert document.properties == {"scribbled": 1}  # only the successful attempt's change
    assert original.properties == {}


async def test_backoff_between_attempts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(retry, "asyncio", FakeAsyncio(record_wait))
    result = await run_steps(
        tmp_path,
        """
        - try:
            retry: {attempts: 5, backoff: 1s, factor: 3, max_backoff: 5s}
            steps:
              - fail: {}
        """,
        Document.json({}),
    )
    assert waits == [1.0, 3.0, 5.0, 5.0]  # none after the last attempt
    assert result.execution.status is ExecutionStatus.FAILED


async def test_backoff_really_waits(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run_steps(
        tmp_path,
        """
        - try:
            retry: {attempts: 3, backoff: 20ms, factor: 2}
            steps:
              - fail: {}
            catch: []
        """,
        Document.json({}),
    )
    assert loop.time() - started >= 0.06  # 20ms + 40ms


def test_retry_configuration_limits(tmp_path: Path) -> None:
    header = "trigger: {http: {auth: none, path: /%s}}\nsteps:\n"
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\n" + header % "a" + "  - try: {steps: [], retry: {attempts: 0}}\n",
            "b.yaml": "name: b\n" + header % "b" + "  - try: {steps: [], retry: {attempts: 11}}\n",
            "c.yaml": "name: c\n" + header % "c" + "  - try: {catch: []}\n",
            "d.yaml": "name: d\n" + header % "d" + "  - try: {steps: [], retry: {backoff: x}}\n",
        },
    )
    assert problems == [
        "a.yaml:4 steps[0].try.retry.attempts: Input should be greater than or equal to 1",
        "b.yaml:4 steps[0].try.retry.attempts: Input should be less than or equal to 10",
        "c.yaml:4 steps[0].try.steps: Field required",
        "d.yaml:4 steps[0].try.retry.backoff: a duration is a number of seconds or a string "
        "like '500ms', '2s', '1m'",
    ]
