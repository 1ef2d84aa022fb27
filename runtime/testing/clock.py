"""A clock that moves only when the test says so (compare Trio's MockClock).

Give it to what takes a `Clock` (`create_app(..., clock=)`, `Scheduler`, `RateLimiter`,
`QuotaCounter`); then `advance(seconds)` moves wall and monotonic time together and wakes
every task asleep on the clock whose time has come. A minute of schedule takes no time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_START = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass(order=True)
class _Sleeper:
    deadline: float  # on the clock's monotonic time
    order: int
    seconds: float = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class FakeClock:
    """Wall time starts at `start` (default 2030-01-01T00:00Z), monotonic time at 1000."""

    def __init__(self, start: datetime | float = DEFAULT_START) -> None:
        self._wall = start.timestamp() if isinstance(start, datetime) else float(start)
        self._monotonic = 1000.0
        self._sleepers: list[_Sleeper] = []
        self._order = itertools.count()
        self._watchers: list[asyncio.Future[None]] = []

    def now(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def utcnow(self) -> datetime:
        """Wall time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._wall, UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been advanced by `seconds` (0 or less: just yield)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        sleeper = _Sleeper(self._monotonic + seconds, next(self._order), seconds, future)
        heapq.heappush(self._sleepers, sleeper)
        self._notify()
        try:
            await future
        except asyncio.CancelledError:
            if sleeper in self._sleepers:  # cancelled before its time: forget it
                self._sleepers.remove(sleeper)
                heapq.heapify(self._sleepers)
            raise

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose time has come, soonest first.

        The woken tasks run once the test next awaits; what they do then (store writes,
        HTTP calls) finishes in its own time: await a signal for it (`settled`, a `Latch`).
        """
        if seconds < 0:
            raise ValueError("a clock only goes forward")
        self._wall += seconds
        self._monotonic += seconds
        while self._sleepers and self._sleepers[0].deadline <= self._monotonic:
            future = heapq.heappop(self._sleepers).future
            if not future.done():
                future.set_result(None)
        self._notify()

    def advance_to(self, when: datetime | float) -> None:
        """Advance to a wall time (not before the current one)."""
        target = when.timestamp() if isinstance(when, datetime) else float(when)
        self.advance(target - self._wall)

    @property
    def sleepers(self) -> list[float]:
        """Seconds until each sleeping task wakes, soonest first."""
        return sorted(s.deadline - self._monotonic for s in self._sleepers)

    async def sleeping(self, seconds: float | None = None, count: int = 1) -> None:
        """Wait until at least `count` tasks sleep on the clock (only sleeps of `seconds`,
        if given, to a microsecond): the signal that advancing now will wake them."""
        while self._count(seconds) < count:
            watcher = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            await watcher

    def _count(self, seconds: float | None) -> int:
        if seconds is None:
            return len(self._sleepers)
        return sum(1 for s in self._sleepers if abs(s.seconds - seconds) < 1e-6)

    def _notify(self) -> None:
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            if not watcher.done():
                watcher.set_result(None)
