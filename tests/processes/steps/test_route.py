"""processes.steps.route: first matching branch per document, default, pass-through."""

from __future__ import annotations

from pathlib import Path

from runtime.core.document import Document
from runtime.core.engine import Execution, ExecutionStatus
from tests.helpers import run_steps, validate_files

ROUTE = """
- route:
    routes:
      - when: doc.n > 10
        steps:
          - set: {properties: {branch: "'big'"}}
      - when: doc.n > 5
        steps:
          - set: {properties: {branch: "'medium'"}}
    default:
      - set: {properties: {branch: "'small'"}}
"""


def branches(documents: list[Document]) -> list[tuple[int, str]]:
    return [(d.body["n"], d.properties["branch"]) for d in documents]


def trace(execution: Execution) -> list[tuple[str, int, int]]:
    return [(e.step, e.documents_in, e.documents_out) for e in execution.trace]


async def test_first_matching_branch_wins(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, ROUTE, Document.json({"n": 20}))
    # 20 matches both conditions; only the first branch runs.
    assert branches(result.documents) == [(20, "big")]
    assert [e.step for e in result.execution.trace] == [
        "steps[0].route",
        "steps[0].route.routes[0].steps[0].set",
    ]


async def test_results_come_in_branch_order_then_default(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path, ROUTE, *(Document.json({"n": n}) for n in (1, 7, 20, 3, 11, 6))
    )
    assert branches(result.documents) == [
        (20, "big"),
        (11, "big"),
        (7, "medium"),
        (6, "medium"),
        (1, "small"),
        (3, "small"),
    ]
    assert trace(result.execution) == [
        ("steps[0].route", 6, 6),
        ("steps[0].route.routes[0].steps[0].set", 2, 2),
        ("steps[0].route.routes[1].steps[0].set", 2, 2),
        ("steps[0].route.default[0].set", 2, 2),
    ]


async def test_branches_without_documents_do_not_run(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, ROUTE, Document.json({"n": 1}))
    assert trace(result.execution) == [
        ("steps[0].route", 1, 1),
        ("steps[0].route.default[0].set", 1, 1),
    ]


async def test_unmatched_documents_pass_through_without_default(tmp_path: Path) -> None:
    first, second = Document.json({"n": 1}, {"k": "v"}), Document.json({"n": 50})
    result = await run_steps(
        tmp_path,
        """
        - route:
            routes:
              - when: doc.n > 10
                steps:
                  - map: {fields: {big: doc.n}}
        """,
        first,
        second,
    )
    assert [d.body for d in result.documents] == [{"big": 50}, {"n": 1}]
    assert result.documents[1] is first
    assert result.documents[1].properties == {"k": "v"}


async def test_a_branch_may_drop_or_multiply_documents(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - route:
            routes:
              - when: doc.lines is defined
                steps:
                  - split:
                      items: doc['lines']
        """,
        Document.json({"lines": [1, 2, 3]}),
        Document.json({"other": True}),
    )
    assert [d.body for d in result.documents] == [1, 2, 3, {"other": True}]
    assert result.execution.trace[0].documents_out == 4


async def test_failing_condition_fails_the_route(tmp_path: Path) -> None:
    result = await run_steps(tmp_path, ROUTE, Document.json({"m": 1}))
    assert result.execution.status is ExecutionStatus.FAILED
    assert result.execution.error is not None
    assert result.execution.error.step_path == "steps[0].route"
    assert result.execution.error.detail == (
        "steps[0].route: 'doc.n > 10': 'dict object' has no attribute 'n'"
    )


async def test_failure_inside_a_branch_names_the_nested_step(tmp_path: Path) -> None:
    result = await run_steps(
        tmp_path,
        """
        - route:
            routes:
              - when: "true"
                steps:
                  - set: {properties: {a: 1}}
                  - route:
                      routes:
                        - when: doc.deep
                          steps:
                            - fail: {status: 409, title: Conflict}
        """,
        Document.json({"deep": True}),
    )
    error = result.execution.error
    assert error is not None
    assert error.step_path == "steps[0].route.routes[0].steps[1].route.routes[0].steps[0].fail"
    assert error.status == 409


def test_a_route_needs_at_least_one_branch(tmp_path: Path) -> None:
    _, problems = validate_files(
        tmp_path,
        {
            "r.yaml": "name: r\ntrigger: {http: {auth: none, path: /r}}\n"
            "steps:\n  - route: {routes: []}\n"
        },
    )
    assert problems == [
        "r.yaml:4 steps[0].route.routes: List should have at least 1 item after validation, not 0"
    ]
