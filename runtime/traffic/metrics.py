"""Prometheus metrics for `GET /metrics`, on a registry of their own.

The request path only bumps plain integers in dicts: a collector turns them into
metric families when Prometheus scrapes. prometheus_client's own labelled metrics take a
lock per value and a label lookup per call (about 6 µs per request here, 2 µs with the
children cached) where this costs a few hundred nanoseconds. Everything runs on the event
loop thread, so nothing needs a lock; scrape on that thread too (the handler does).

Callers are never a label (their number is unbounded; per-caller data is in
`/api/usage`). Listener and process names must come from a bounded set.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector

from runtime.traffic.usage import REASONS, reason_index

log = logging.getLogger("wharf.metrics")

# Request latency buckets, seconds: 1 ms to 30 s.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Label of status // 100; anything outside 1-5 (e.g. 0 for a dropped connection) is "other".
STATUS_CLASSES = ("other", "1xx", "2xx", "3xx", "4xx", "5xx")
_LE = [str(float(bound)) for bound in DURATION_BUCKETS] + ["+Inf"]


class _ListenerStats:
    """One listener's request counters; the histogram's counts are per bucket, not cumulative."""

    __slots__ = ("buckets", "bytes_in", "bytes_out", "duration_sum", "rejected", "status")

    def __init__(self) -> None:
        self.status = [0] * len(STATUS_CLASSES)
        self.bytes_in = 0
        self.bytes_out = 0
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.rejected = [0] * len(REASONS)


class Metrics:
    """Wharf's metrics: observe_* on the hot paths, exposition() for the scrape."""

    def __init__(
        self,
        inbox_depth: Callable[[], float] | None = None,
        outstanding: Callable[[], float] | None = None,
        *,
        process_metrics: bool = True,
    ) -> None:
        """`inbox_depth` and `outstanding` are read at scrape time.

        `process_metrics` adds prometheus_client's process_* metrics (CPU, memory, fds)."""
        self._inbox_depth = inbox_depth
        self._outstanding = outstanding
        self._listeners: dict[str, _ListenerStats] = {}
        self._executions: dict[tuple[str, str, str], int] = {}
        self._fires: dict[tuple[str, str], int] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)
        if process_metrics:
            ProcessCollector(registry=self.registry)

    def observe_request(
        self,
        listener: str,
        status: int,
        bytes_in: int,
        bytes_out: int,
        seconds: float,
        rejected: str | None = None,
    ) -> None:
        """Count one answered request; `rejected` is one of REASONS or None."""
        reason = None if rejected is None else reason_index(rejected)
        stats = self._listeners.get(listener)
        if stats is None:
            stats = self._listeners[listener] = _ListenerStats()
        status_class = status // 100
        stats.status[status_class if 0 < status_class < 6 else 0] += 1
        stats.bytes_in += bytes_in
        stats.bytes_out += bytes_out
        stats.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1
        stats.duration_sum += seconds
        if reason is not None:
            stats.rejected[reason] += 1

    def observe_execution(self, process: str, trigger: str, status: str) -> None:
        """Count one finished execution (status: succeeded, failed...)."""
        key = (process, trigger, status)
        self._executions[key] = self._executions.get(key, 0) + 1

    def observe_fire(self, process: str, status: str, count: int = 1) -> None:
        """Count schedule fires by their outcome (succeeded, skipped, missed...)."""
        key = (process, status)
        self._fires[key] = self._fires.get(key, 0) + count

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def describe(self) -> Iterable[Metric]:
        """Families without samples: lets the registry reject duplicate names."""
        return _Families().all()

    def collect(self) -> Iterable[Metric]:
        families = _Families()
        for listener, stats in list(self._listeners.items()):
            for label, count in zip(STATUS_CLASSES, stats.status, strict=True):
                if count or label in ("2xx", "3xx", "4xx", "5xx"):
                    families.requests.add_metric([listener, label], count)
            cumulative = 0
            buckets = []
            for le, count in zip(_LE, stats.buckets, strict=True):
                cumulative += count
                buckets.append((le, float(cumulative)))
            families.duration.add_metric([listener], buckets, stats.duration_sum)
            families.size.add_metric([listener, "in"], stats.bytes_in)
            families.size.add_metric([listener, "out"], stats.bytes_out)
            for reason, count in zip(REASONS, stats.rejected, strict=True):
                families.rejected.add_metric([listener, reason], count)
        for labels, count in list(self._executions.items()):
            families.executions.add_metric(list(labels), count)
        for (process, status), count in list(self._fires.items()):
            families.fires.add_metric([process, status], count)
        for gauge, read in (
            (families.inbox_depth, self._inbox_depth),
            (families.outstanding, self._outstanding),
        ):
            value = _read(gauge.name, read)
            if value is not None:
                gauge.add_metric([], value)
        return families.all()


class _Families:
    """One scrape's metric families, empty until filled."""

    def __init__(self) -> None:
        self.requests = CounterMetricFamily(
            "wharf_http_requests",
            "HTTP requests answered by listeners, by status class",
            labels=["listener", "status_class"],
        )
        self.duration = HistogramMetricFamily(
            "wharf_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels=["listener"],
        )
        self.size = CounterMetricFamily(
            "wharf_http_request_bytes",
            "HTTP body bytes received (in) and sent (out)",
            labels=["listener", "direction"],
        )
        self.rejected = CounterMetricFamily(
            "wharf_http_rejected",
            "HTTP requests refused before running (auth, rate, quota, busy)",
            labels=["listener", "reason"],
        )
        self.executions = CounterMetricFamily(
            "wharf_executions", "Finished executions", labels=["process", "trigger", "status"]
        )
        self.fires = CounterMetricFamily(
            "wharf_schedule_fires", "Schedule fires by outcome", labels=["process", "status"]
        )
        self.inbox_depth = GaugeMetricFamily(
            "wharf_inbox_depth", "Accepted executions waiting for a worker"
        )
        self.outstanding = GaugeMetricFamily(
            "wharf_executions_outstanding", "Executions accepted or running, not yet recorded"
        )

    def all(self) -> list[Metric]:
        return [
            self.requests,
            self.duration,
            self.size,
            self.rejected,
            self.executions,
            self.fires,
            self.inbox_depth,
            self.outstanding,
        ]


def _read(name: str, read: Callable[[], float] | None) -> float | None:
    """A gauge's value; a failing callable drops the gauge rather than the whole scrape."""
    if read is None:
        return None
    try:
        return float(read())
    except Exception:
        log.exception("metrics: reading %s failed", name)
        return None
