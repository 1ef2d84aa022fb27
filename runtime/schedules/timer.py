"""The schedule timer: when each schedule's next slot comes, on the scheduler's clock.

It sleeps on the clock until the nearest nominal fire time of any schedule (the triggers'
APScheduler timing computes them) and hands every slot then due to `on_fire`, oldest
first: a loop held up past whole intervals hands over several at once. It re-reads the
clock at least every `MAX_WAIT` seconds, so a wall-clock jump delays no fire for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from runtime.core.clock import Clock, utc_now
from runtime.schedules.timing import TimedTrigger

log = logging.getLogger("wharf.scheduler")

MAX_WAIT = 60.0
_INSTANT = timedelta(microseconds=1)

OnFire = Callable[[str, list[datetime]], None]


class ScheduleTimer:
    def __init__(self, clock: Clock, on_fire: OnFire) -> None:
        self.clock = clock
        self.on_fire = on_fire
        self._next: dict[str, datetime | None] = {}
        self._triggers: dict[str, TimedTrigger] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self, triggers: Mapping[str, TimedTrigger]) -> None:
        now = utc_now(self.clock) - _INSTANT  # a slot falling exactly now is due
        self._next = {name: trigger.next_fire(now) for name, trigger in triggers.items()}
        self._triggers = dict(triggers)
        self._task = asyncio.create_task(self._run(), name="wharf-schedule-timer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def next_fire(self, name: str) -> datetime | None:
        """The schedule's next nominal fire time; None before start or after its end."""
        return self._next.get(name)

    async def _run(self) -> None:
        while True:
            now = utc_now(self.clock)
            for name in self._next:
                self._hand_over(name, now)
            upcoming = [due for due in self._next.values() if due is not None]
            wait = (min(upcoming) - now).total_seconds() if upcoming else MAX_WAIT
            await self.clock.sleep(min(wait, MAX_WAIT))

    def _hand_over(self, name: str, now: datetime) -> None:
        """Hand over the schedule's slots up to `now`; its next fire moves past them."""
        due: list[datetime] = []
        try:
            slot = self._next[name]
            while slot is not None and slot <= now:
                due.append(slot)
                slot = self._triggers[name].next_fire(slot)
        except Exception:  # a broken timing stops its own schedule, not the others
            log.exception("schedule %s: cannot compute its next fire", name)
            slot = None
        self._next[name] = slot
        if due:
            try:
                self.on_fire(name, due)
            except Exception:
                log.exception("schedule %s: its fire could not start", name)
