"""processes.steps.delay: wait without blocking the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runtime.core.document import Document
from runtime.core.engine import ExecutionResult
from tests.helpers import steps_process, validate_files


async def test_delay_waits_and_passes_documents_on(tmp_path: Path) -> None:
    process = steps_process(tmp_path, "- delay: {duration: 50ms}")
    documents = [Document.json({"n": 1}), Document.json({"n": 2})]
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await process.execute(documents)
    assert loop.time() - started >= 0.05
    assert result.documents == documents
    (entry,) = result.execution.trace
    assert entry.step == "steps[0].delay"
    assert entry.duration_ms >= 50
    assert (entry.documents_in, entry.documents_out) == (2, 2)


async def test_delays_run_concurrently(tmp_path: Path) -> None:
    process = steps_process(tmp_path, "- delay: {duration: 100ms}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    events: list[str] = []
    for n in range(5):  # due while the delays run: they run first only if the loop is free
        loop.call_later(0.015 * (n + 1), events.append, f"tick {n}")

    async def execute(n: int) -> ExecutionResult:
        result = await process.execute([Document.json({"n": n})])
        events.append("done")
        return result

    results = await asyncio.gather(*(execute(n) for n in range(5)))
    elapsed = loop.time() - started
    assert 0.1 <= elapsed < 0.35  # five 100 ms delays overlap
    assert events == [f"tick {n}" for n in range(5)] + ["done"] * 5  # the loop kept running
    assert [r.documents[0].body for r in results] == [{"n": n} for n in range(5)]


def test_duration_forms(tmp_path: Path) -> None:
    for text, seconds in [("250ms", 0.25), ("2", 2.0), ("1.5m", 90.0), ("0", 0.0)]:
        process = steps_process(tmp_path, f"- delay: {{duration: '{text}'}}")
        assert process.pipeline.steps[0].duration == seconds  # type: ignore[attr-defined]
    header = "trigger: {http: {auth: none, path: /%s}}\nsteps:\n"
    _, problems = validate_files(
        tmp_path,
        {
            "a.yaml": "name: a\n" + header % "a" + "  - delay: {duration: soon}\n",
            "b.yaml": "name: b\n" + header % "b" + "  - delay: {}\n",
        },
    )
    assert problems == [
        "a.yaml:4 steps[0].delay.duration: a duration is a number of seconds or a string like "
        "'500ms', '2s', '1m'",
        "b.yaml:4 steps[0].delay.duration: Field required",
    ]
