"""Per-request traffic checks: token-bucket rate limits, stored quotas, concurrency caps.

The rate check runs on every request of a limited listener, so it stays in memory and
does a dict lookup and a few float operations: no store round trip, no lock (the event
loop is the only thread touching it). Refusals become `RequestError`s with the headers of
the IETF draft "RateLimit header fields for HTTP" (`RateLimit-Limit`, `-Remaining`,
`-Reset`, as delta-seconds) and `Retry-After`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from runtime.core.clock import SYSTEM_CLOCK, Clock
from runtime.core.errors import RequestError

if TYPE_CHECKING:
    from runtime.store import QuotaLedger
    from runtime.traffic.config import Quota, RateLimit

_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
# Float slack: 20 s at 3 per minute is one token even if the product rounds below 1.
_EPS = 1e-9
DEFAULT_MAX_CALLERS = 100_000
_new = tuple.__new__


class RateDecision(NamedTuple):
    """One rate check; `reset` is seconds until the bucket is full again."""

    allowed: bool
    limit: int
    remaining: int
    reset: float
    retry_after: int  # whole seconds until the next token; 0 when allowed


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """Token buckets: `burst` tokens each, refilled at `requests` per `per`.

    Buckets are kept per caller (or under one key for `by: listener`) in an LRU table of at
    most `max_callers`. Adding a caller first drops idle full buckets from the cold end
    (a full bucket is the same as no bucket), so the table tracks the active callers; a
    flood of distinct callers past the cap evicts the least recently seen, which then
    start over with a full bucket: memory stays bounded at the price of leniency.
    Buckets refill by the `clock`'s monotonic time (tests pass a fake one).
    """

    def __init__(
        self,
        config: RateLimit,
        *,
        max_callers: int = DEFAULT_MAX_CALLERS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if max_callers < 1:
            raise ValueError("max_callers must be at least 1")
        self.limit = config.burst if config.burst is not None else config.requests
        self.rate = config.requests / _SECONDS[config.per]  # tokens per second
        self.per_caller = config.by == "caller"
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._monotonic = clock.monotonic  # bound once: the check runs on every request

    def __len__(self) -> int:
        """Buckets held (for tests and metrics)."""
        return len(self._buckets)

    def check(self, caller: str, now: float | None = None) -> RateDecision:
        """Take a token for `caller` if one is left; `now` is the clock's monotonic seconds."""
        if now is None:
            now = self._monotonic()
        limit, rate, buckets = self.limit, self.rate, self._buckets
        key = caller if self.per_caller else ""
        bucket = buckets.get(key)
        if bucket is None:
            bucket = self._add(key, now)
            tokens = float(limit)
        else:
            buckets.move_to_end(key)
            tokens = bucket.tokens
            elapsed = now - bucket.stamp
            if elapsed > 0.0:  # only an injected clock can go backwards; it earns nothing
                bucket.stamp = now
                tokens += elapsed * rate
                if tokens > limit:
                    tokens = float(limit)
        if tokens >= 1.0 - _EPS:
            tokens -= 1.0
            bucket.tokens = tokens
            # tuple.__new__ skips NamedTuple's keyword-handling __new__: half the cost.
            return _new(RateDecision, (True, limit, int(tokens + _EPS), (limit - tokens) / rate, 0))
        bucket.tokens = tokens
        wait = math.ceil((1.0 - tokens) / rate - _EPS)
        return RateDecision(False, limit, 0, (limit - tokens) / rate, wait if wait > 1 else 1)

    def _add(self, key: str, now: float) -> _Bucket:
        buckets = self._buckets
        # Drop up to two idle full buckets per new caller so the table shrinks as
        # callers go quiet, without ever scanning it.
        for _ in range(2):
            if not buckets:
                break
            oldest = next(iter(buckets.values()))
            if oldest.tokens + (now - oldest.stamp) * self.rate < self.limit - _EPS:
                break
            buckets.popitem(last=False)
        while len(buckets) >= self.max_callers:
            buckets.popitem(last=False)
        bucket = _Bucket(float(self.limit), now)
        buckets[key] = bucket
        return bucket


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """`RateLimit-*` headers for any answer, plus `Retry-After` for a refusal."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset - _EPS)),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def rate_limited(decision: RateDecision) -> RequestError:
    return RequestError(
        f"rate limit exceeded; retry in {decision.retry_after} s",
        status=429,
        problem="rate-limited",
        title="Too many requests",
        headers=rate_limit_headers(decision),
    )


class QuotaDecision(NamedTuple):
    """One quota count; `retry_after` is whole seconds until the period ends."""

    allowed: bool
    limit: int
    used: int  # the count after this request; `limit` when refused
    period_end: float  # epoch seconds
    retry_after: int


def quota_period(per: str, now: float) -> tuple[str, float, float]:
    """The UTC calendar period holding `now`: (key like `day:2026-12-02`, start, end)."""
    moment = datetime.fromtimestamp(now, UTC)
    if per == "day":
        start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        return f"day:{start:%Y-%m-%d}", start.timestamp(), (start + timedelta(days=1)).timestamp()
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return f"month:{start:%Y-%m}", start.timestamp(), end.timestamp()


class QuotaCounter:
    """Counts requests per UTC day or month in the store, so counts survive restarts and
    are shared by every runtime on the same store.

    Each request is one store write (concurrent ones are group-committed by the store);
    the store refuses atomically at the limit, so concurrent requests never overshoot.
    Keys are `<listener>|<caller>`, or `<listener>` for `by: listener` (listener names
    hold no `|`).
    """

    def __init__(self, config: Quota, store: QuotaLedger, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.limit = config.requests
        self.per = config.per
        self.per_caller = config.by == "caller"
        self.store = store
        self.clock = clock
        self._period = ("", 0.0, 0.0)  # cached (key, start, end)

    async def consume(self, listener: str, caller: str, now: float | None = None) -> QuotaDecision:
        """Count one request; `now` is epoch seconds (the clock's `now()`)."""
        if now is None:
            now = self.clock.now()
        period, start, end = self._period
        if not start <= now < end:
            period, start, end = self._period = quota_period(self.per, now)
        key = f"{listener}|{caller}" if self.per_caller else listener
        used = await self.store.consume_quota(key, period, 1, self.limit)
        retry_after = math.ceil(end - now)  # now < end, so at least 1
        if used is None:
            return QuotaDecision(False, self.limit, self.limit, end, retry_after)
        return QuotaDecision(True, self.limit, used, end, retry_after)


def quota_exceeded(decision: QuotaDecision) -> RequestError:
    return RequestError(
        f"quota of {decision.limit} requests exceeded; it renews in {decision.retry_after} s",
        status=429,
        problem="quota-exceeded",
        title="Quota exceeded",
        headers={"Retry-After": str(decision.retry_after)},
    )


class ConcurrencyLimiter:
    """At most `max_concurrent` executions at once; never waits, the caller is refused.

    Use `try_acquire`/`release` when the slot outlives the request (async executions), or
    `with limiter:` (or `async with`), which raises the 503 problem when full.
    """

    def __init__(self, max_concurrent: int) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self.active = 0

    def try_acquire(self) -> bool:
        if self.active >= self.max_concurrent:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        if self.active <= 0:
            raise RuntimeError("release() without a matching acquire")
        self.active -= 1

    def __enter__(self) -> ConcurrencyLimiter:
        if not self.try_acquire():
            raise listener_busy()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    async def __aenter__(self) -> ConcurrencyLimiter:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def listener_busy() -> RequestError:
    return RequestError(
        "the listener is running as many executions as it may; retry shortly",
        status=503,
        problem="listener-busy",
        title="Listener busy",
        headers={"Retry-After": "1"},
    )
