"""Per-listener, per-caller usage analytics kept in memory, for `GET /api/usage`.

Every request is recorded into the aggregate of its (listener, caller) pair in the
current UTC minute. Recording is on the request path, so it takes no lock, writes
nothing to the store and does O(1) work: a clock read, a dict lookup and a few integer
increments. Summaries merge the minutes asked for when the admin API asks.

Memory stays bounded under any traffic:

* minutes older than `window` (default 24 h) are dropped;
* beyond `max_callers_per_minute` distinct (listener, caller) pairs in one minute, further
  callers are folded into the caller `(other)` of their listener;
* beyond `max_series` aggregates in all, the oldest minutes are dropped early, so a flood
  of distinct callers shortens the window instead of exhausting memory. An aggregate
  takes 0.6-1 KB, so the default 200_000 caps usage near 120-200 MB; 24 h of minutes
  fits it while under ~140 (listener, caller) pairs are active every minute.

Listener names must come from a bounded set (the configured listeners, plus fixed names
such as `(unrouted)`); callers may be anything.

Latency is kept as a sparse log-scale histogram: bucket edges grow by 2^(1/8) (about
9 %), and a percentile reads as the geometric middle of the bucket holding the
nearest-rank sample, so it is within 4.5 % of the exact value (2^(1/16) - 1). Latencies
under 10 µs read as 0.01 ms; those over an hour (3796 s) as 3796 s.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections.abc import Callable
from typing import Any, Literal

OTHER = "(other)"
REASONS = ("auth", "rate", "quota", "busy")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
PERCENTILES = (50, 95, 99)
DEFAULT_SPAN = 3600.0  # summary() without `since`: the last hour

_REASON_INDEX = {reason: index for index, reason in enumerate(REASONS)}

# Latency buckets: bucket 0 holds latencies under _FLOOR seconds, bucket b >= 1 holds
# [_EDGES[b-1], _EDGES[b]) and the last one everything from about an hour up.
_FLOOR = 1e-5
_RATIO = 2 ** (1 / 8)
_EDGES = [_FLOOR * _RATIO**i for i in range(math.ceil(math.log(3600 / _FLOOR, _RATIO)) + 1)]
_TOP = len(_EDGES)

Grouping = Literal["listener", "caller"]


def bucket_value(bucket: int) -> float:
    """The latency a bucket reads as, in seconds: its geometric middle (or its edge)."""
    if bucket == 0:
        return _FLOOR
    if bucket >= _TOP:
        return _EDGES[-1]
    return _EDGES[bucket - 1] * math.sqrt(_RATIO)


class Aggregate:
    """Counters of one (listener, caller) pair, in one minute or merged over many."""

    __slots__ = ("bytes_in", "bytes_out", "latency", "rejected", "requests", "status")

    def __init__(self) -> None:
        self.requests = 0
        self.status = [0, 0, 0, 0]  # 2xx, 3xx, 4xx, 5xx
        self.bytes_in = 0
        self.bytes_out = 0
        self.rejected: list[int] | None = None  # by REASONS; most pairs are never rejected
        self.latency: dict[int, int] = {}  # bucket -> count

    def merge(self, other: Aggregate) -> None:
        self.requests += other.requests
        status = self.status
        for index, count in enumerate(other.status):
            status[index] += count
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        if other.rejected is not None:
            if self.rejected is None:
                self.rejected = [0, 0, 0, 0]
            for index, count in enumerate(other.rejected):
                self.rejected[index] += count
        latency = self.latency
        for bucket, count in other.latency.items():
            latency[bucket] = latency.get(bucket, 0) + count

    def percentiles_ms(self) -> dict[str, float | None]:
        """Nearest-rank p50/p95/p99 in milliseconds, within the documented precision."""
        total = sum(self.latency.values())
        if total == 0:
            return {f"p{p}": None for p in PERCENTILES}
        ranks = [-(-total * p // 100) for p in PERCENTILES]  # ceil without float error
        result: dict[str, float | None] = {}
        seen = 0
        pending = 0
        for bucket in sorted(self.latency):
            seen += self.latency[bucket]
            while pending < len(ranks) and seen >= ranks[pending]:
                result[f"p{PERCENTILES[pending]}"] = round(bucket_value(bucket) * 1000, 3)
                pending += 1
            if pending == len(ranks):
                break
        return result

    def as_row(self) -> dict[str, Any]:
        rejected = self.rejected or [0, 0, 0, 0]
        return {
            "requests": self.requests,
            "status": dict(zip(STATUS_CLASSES, self.status, strict=True)),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "latency_ms": self.percentiles_ms(),
            "rejected": dict(zip(REASONS, rejected, strict=True)),
        }


class UsageRecorder:
    """In-memory per-minute usage aggregates; one per app, used from its event loop only."""

    def __init__(
        self,
        *,
        window: float = 24 * 3600.0,
        max_callers_per_minute: int = 10_000,
        max_series: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window < 60:
            raise ValueError("window is at least one minute")
        if max_callers_per_minute < 1 or max_series < max_callers_per_minute:
            raise ValueError("max_series must be at least max_callers_per_minute >= 1")
        self.window = window
        self.max_callers_per_minute = max_callers_per_minute
        self.max_series = max_series
        self.clock = clock
        # minute start (epoch seconds, UTC) -> (listener, caller) -> aggregate; keys ascend.
        self._minutes: dict[int, dict[tuple[str, str], Aggregate]] = {}
        self._current: dict[tuple[str, str], Aggregate] = {}
        self._current_end = -math.inf
        self._series = 0

    def record(
        self,
        listener: str,
        caller: str,
        status: int,
        bytes_in: int,
        bytes_out: int,
        seconds: float,
        rejected: str | None = None,
    ) -> None:
        """Count one answered request; `rejected` is one of REASONS or None."""
        reason = None if rejected is None else reason_index(rejected)
        now = self.clock()
        if now >= self._current_end:
            self._roll(now)
        aggregate = self._current.get((listener, caller))
        if aggregate is None:
            aggregate = self._add(listener, caller)
        aggregate.requests += 1
        status_class = status // 100 - 2
        if 0 <= status_class < 4:
            aggregate.status[status_class] += 1
        aggregate.bytes_in += bytes_in
        aggregate.bytes_out += bytes_out
        bucket = bisect_right(_EDGES, seconds)  # the latency's histogram bucket
        latency = aggregate.latency
        latency[bucket] = latency.get(bucket, 0) + 1
        if reason is not None:
            if aggregate.rejected is None:
                aggregate.rejected = [0, 0, 0, 0]
            aggregate.rejected[reason] += 1

    def summary(
        self, since: float | None = None, by: Grouping = "listener"
    ) -> list[dict[str, Any]]:
        """Merged rows since `since` (epoch seconds; default the last hour), busiest first.

        Minutes are the unit: the minute holding `since` counts whole."""
        if by not in ("listener", "caller"):
            raise ValueError(f"by is 'listener' or 'caller', not {by!r}")
        now = self.clock()
        self._expire(_minute(now))
        if since is None:
            since = now - DEFAULT_SPAN
        merged: dict[tuple[str, str], Aggregate] = {}
        for start, pairs in self._minutes.items():
            if start + 60 <= since:
                continue
            for (listener, caller), aggregate in pairs.items():
                key = (listener, caller if by == "caller" else "")
                total = merged.get(key)
                if total is None:
                    total = merged[key] = Aggregate()
                total.merge(aggregate)
        rows = []
        for (listener, caller), total in merged.items():
            row: dict[str, Any] = {"listener": listener}
            if by == "caller":
                row["caller"] = caller
            row.update(total.as_row())
            rows.append(row)
        rows.sort(key=lambda row: (-row["requests"], row["listener"], row.get("caller", "")))
        return rows

    def minutes(self) -> list[int]:
        """Start times of the minutes held, oldest first."""
        return list(self._minutes)

    def _roll(self, now: float) -> None:
        """A new minute: start its bucket and drop those that left the window."""
        start = _minute(now)
        self._current = self._minutes[start] = {}
        self._current_end = start + 60
        self._expire(start)

    def _expire(self, current_start: int) -> None:
        horizon = current_start - self.window
        minutes = self._minutes
        while minutes:
            oldest = next(iter(minutes))
            if oldest > horizon:
                break
            self._series -= len(minutes.pop(oldest))

    def _add(self, listener: str, caller: str) -> Aggregate:
        current = self._current
        if len(current) >= self.max_callers_per_minute:
            caller = OTHER
            folded = current.get((listener, caller))
            if folded is not None:
                return folded
        while self._series >= self.max_series and len(self._minutes) > 1:
            oldest = next(iter(self._minutes))
            self._series -= len(self._minutes.pop(oldest))
        aggregate = current[(listener, caller)] = Aggregate()
        self._series += 1
        return aggregate


def reason_index(rejected: str) -> int:
    """The position of a rejection reason in REASONS (shared with the metrics)."""
    index = _REASON_INDEX.get(rejected)
    if index is None:
        raise ValueError(f"rejected is one of {', '.join(REASONS)}, not {rejected!r}")
    return index


def _minute(now: float) -> int:
    return int(now // 60) * 60
