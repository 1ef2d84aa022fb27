"""Time as a dependency: what reads the time or waits for it takes a `Clock`.

The scheduler and the traffic limits read wall time, monotonic time and sleep through a
clock, so tests drive time with `runtime.testing.FakeClock` in milliseconds instead of
waiting for it. The system clock's methods are the standard library's own functions, so
production pays one attribute lookup per reading and no extra await.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time in epoch seconds, like `time.time()`."""
        ...

    def monotonic(self) -> float:
        """Seconds that only go forward, for measuring intervals, like `time.monotonic()`."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""
        ...


class SystemClock:
    """The real clock."""

    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()


def utc_now(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), UTC)
