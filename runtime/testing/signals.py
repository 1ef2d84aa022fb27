"""Signals a test awaits instead of sleeping: "the process has started", "everything ran".

A test that needs work in flight (a concurrency cap, a drain at shutdown, an overlapping
schedule fire) installs a `Gate` in the process: each execution reaching it counts in
`gate.reached` and waits there until the test opens the gate. `started(process)` only
counts. `settled(app)` waits until every fire and execution started so far is recorded.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from runtime.core.components import Step
from runtime.server.state import STATE

if TYPE_CHECKING:
    from aiohttp import web

    from runtime.core.document import Document
    from runtime.core.engine import Process


class Latch:
    """Counts arrivals; `await latch.wait(n)` returns once there were at least `n`."""

    def __init__(self) -> None:
        self.count = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def arrive(self) -> None:
        self.count += 1
        waiting = []
        for needed, waiter in self._waiters:
            if self.count < needed:
                waiting.append((needed, waiter))
            elif not waiter.done():
                waiter.set_result(None)
        self._waiters = waiting

    async def wait(self, count: int = 1) -> None:
        if self.count >= count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        await waiter


class Gate:
    """A point in a process's steps where executions wait until the test opens it."""

    def __init__(self, *, open: bool = False) -> None:
        self.reached = Latch()
        self._open = asyncio.Event()
        if open:
            self._open.set()

    def open(self) -> None:
        """Let every waiting execution, and every later one, through."""
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    async def pass_through(self) -> None:
        self.reached.arrive()
        await self._open.wait()

    def install(self, process: Process, before: int = 0) -> Gate:
        """Put the gate into a loaded process, before its step number `before`."""
        step = _GateStep()
        step._gate = self
        step.bind("testing.gate")
        process.pipeline.steps.insert(before, step)
        return self


def started(process: Process) -> Latch:
    """A latch that counts the executions of `process` as they begin."""
    return Gate(open=True).install(process).reached


class _GateStep(Step):
    """Not a DSL step (never registered): `Gate.install` inserts it into a loaded process.
    It shows in execution traces as `testing.gate`."""

    _gate: Gate | None = PrivateAttr(default=None)

    async def run(self, documents: list[Document], context: Any) -> list[Document]:
        assert self._gate is not None
        await self._gate.pass_through()
        return documents


async def settled(app: web.Application) -> None:
    """Wait until every schedule fire and execution started so far has finished and its
    record is in the store. Tasks that a `FakeClock.advance` just woke count too: this
    first yields once so they start."""
    state = app[STATE]
    await asyncio.sleep(0)
    await state.scheduler.settled()
    await state.dispatcher.idle()
    await state.store.flush()
