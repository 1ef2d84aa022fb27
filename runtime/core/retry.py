"""One retry policy for every component that re-runs work after a failure.

`try` (steps) and `http.request` (calls) share the YAML shape, the back-off arithmetic
and the loop, so a user learns one `retry:` block and both behave alike. Components keep
their own defaults by subclassing `RetryPolicy` and overriding field defaults.

The loop sleeps through `asyncio.sleep`, looked up at call time, or through an injected
`sleep`, so tests replace the clock rather than wait.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import Field

from runtime.core.durations import Duration
from runtime.core.models import StrictModel

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class RetryPolicy(StrictModel):
    """How often, and how patiently, an operation is run again after a failure."""

    attempts: int = Field(1, ge=1, le=10, description="Total attempts, the first included.")
    backoff: Duration = Field(1.0, description="Wait before the second attempt.")
    factor: float = Field(2.0, ge=1.0, description="Each further wait is this much longer.")
    max_backoff: Duration = Field(60.0, description="Upper bound of any one wait.")
    jitter: bool = Field(
        False,
        description="Wait a random time between 0 and the back-off instead (full jitter), "
        "so that many callers failing together do not retry together.",
    )

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Wait after failed attempt number `attempt` (1-based)."""
        try:
            ceiling = min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)
        except OverflowError:  # a huge factor: the power leaves the floats, the bound holds
            ceiling = self.max_backoff
        if not self.jitter:
            return float(ceiling)
        uniform = rng.uniform if rng is not None else random.uniform
        return uniform(0.0, ceiling)  # spread, not secrecy: no cryptographic source


class TryAgain(Exception):
    """Raised by an attempt that asks for another one; `after` (seconds), when given,
    replaces the policy's back-off (e.g. a server's `Retry-After`)."""

    def __init__(self, after: float | None = None):
        super().__init__("try again" if after is None else f"try again after {after} s")
        self.after = after


async def retrying(
    policy: RetryPolicy,
    attempt: Callable[[int], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    sleep: Sleep | None = None,
    rng: random.Random | None = None,
) -> T:
    """Await `attempt(1)`, `attempt(2)`... until one returns, at most `policy.attempts`
    times, waiting the policy's delay in between. `TryAgain`, or an exception of
    `retry_on`, asks for the next attempt; raised by the last one, it propagates."""
    retryable: tuple[type[BaseException], ...] = (TryAgain, *retry_on)
    for number in range(1, policy.attempts):
        try:
            return await attempt(number)
        except retryable as exc:
            after = exc.after if isinstance(exc, TryAgain) else None
            wait = policy.delay(number, rng) if after is None else after
            await (sleep or asyncio.sleep)(wait)
    return await attempt(policy.attempts)
