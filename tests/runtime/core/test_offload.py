"""Heavy work off the event loop: inline when small, in a thread within the budget."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runtime.core.offload import INLINE_BELOW, Offload, WorkTooCostly, deadline_hook


async def test_small_work_runs_inline_and_large_in_a_thread() -> None:
    offload = Offload(budget=5.0)
    here = threading.get_ident()
    assert await offload.run(threading.get_ident, size=INLINE_BELOW - 1) == here
    assert await offload.run(threading.get_ident, size=INLINE_BELOW) != here
    assert await offload.run(threading.get_ident) != here  # unknown size: off the loop


async def test_errors_reach_the_caller() -> None:
    def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await Offload().run(fail, size=None)


async def test_work_over_budget_is_refused_and_stops_at_its_next_check() -> None:
    offload = Offload(budget=0.05)
    release = threading.Event()
    stopped = threading.Event()

    def validation() -> None:
        # Like xmlschema between elements: checks the deadline as it goes.
        try:
            while True:
                deadline_hook()
                release.wait(0.001)
        finally:
            stopped.set()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)  # a bare yield: counts loop turns while the thread works

    running = asyncio.create_task(ticker())
    with pytest.raises(WorkTooCostly) as refused:
        await offload.run(validation)
    running.cancel()
    assert refused.value.status == 422 and refused.value.problem == "too-costly"
    assert ticks > 10  # the loop kept running meanwhile
    assert await asyncio.to_thread(stopped.wait, 5)  # the abandoned thread ended
