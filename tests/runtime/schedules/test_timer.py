"""The schedule timer on a FakeClock: slots handed over when due, a broken timing alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listeners.schedule import ScheduleTrigger
from runtime.schedules.timer import MAX_WAIT, ScheduleTimer
from runtime.testing import FakeClock

START = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)


def minute(n: int) -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=n)


async def test_slots_are_handed_over_when_due_and_late_ones_together() -> None:
    clock = FakeClock(START)
    handed: list[tuple[str, list[datetime]]] = []
    timer = ScheduleTimer(clock, lambda name, due: handed.append((name, due)))
    timer.start({"a": ScheduleTrigger(every=60.0), "h": ScheduleTrigger(cron="@hourly")})
    try:
        assert timer.next_fire("a") == minute(1)
        await clock.sleeping(30)  # until the nearest slot
        clock.advance(30)
        await clock.sleeping(60)
        assert handed == [("a", [minute(1)])]
        clock.advance(150)  # held up: two slots at once, oldest first
        await clock.sleeping(30)
        assert handed[1:] == [("a", [minute(2), minute(3)])]
        assert timer.next_fire("a") == minute(4)
        assert timer.next_fire("h") == minute(60)
        assert clock.sleepers == [30]  # to minute 4, nearer than the hour
    finally:
        await timer.stop()


async def test_without_schedules_left_it_rereads_the_clock_every_max_wait() -> None:
    clock = FakeClock(START)
    timer = ScheduleTimer(clock, lambda name, due: None)
    timer.start({"past": ScheduleTrigger(every=60.0, end=datetime(2029, 1, 1))})
    try:
        await clock.sleeping(MAX_WAIT)
        assert timer.next_fire("past") is None
    finally:
        await timer.stop()


async def test_a_broken_timing_stops_only_its_schedule(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(START)
    handed: list[str] = []
    timer = ScheduleTimer(clock, lambda name, due: handed.append(name))
    broken = ScheduleTrigger(every=60.0)
    timer.start({"broken": broken, "fine": ScheduleTrigger(every=60.0)})

    def fails(after: datetime) -> datetime | None:
        raise RuntimeError("no more")

    object.__setattr__(broken, "next_fire", fails)
    try:
        await clock.sleeping(30)
        clock.advance(30)
        await clock.sleeping(60)
        assert handed == ["broken", "fine"]  # the due slot still goes; then it stops
        assert timer.next_fire("broken") is None
        assert "schedule broken: cannot compute its next fire" in caplog.text
        clock.advance(60)
        await clock.sleeping(60)
        assert handed == ["broken", "fine", "fine"]
        assert clock.sleepers == [60]
    finally:
        await timer.stop()
