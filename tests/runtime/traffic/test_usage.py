"""The in-memory usage recorder: aggregation, percentiles, retention and memory bounds."""

from __future__ import annotations

import math
import random

import pytest

from runtime.traffic.usage import OTHER, UsageRecorder

PRECISION = 0.045  # documented: percentiles within 4.5 % of the exact value
T0 = 1_700_000_040.0  # a minute start


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * percent / 100) - 1]


def test_rows_by_listener_sum_every_caller_busiest_first() -> None:
    usage = UsageRecorder(clock=Clock())
    usage.record("orders", "acme", 200, 100, 1000, 0.010)
    usage.record("orders", "acme", 201, 50, 10, 0.020)
    usage.record("orders", "globex", 302, 0, 0, 0.001)
    usage.record("orders", "globex", 401, 30, 60, 0.0005, rejected="auth")
    usage.record("orders", "globex", 503, 30, 60, 0.0005, rejected="busy")
    usage.record("invoices", "acme", 429, 10, 20, 0.0002, rejected="rate")

    rows = usage.summary(by="listener")

    assert [row["listener"] for row in rows] == ["orders", "invoices"]
    orders = rows[0]
    assert "caller" not in orders
    assert orders["requests"] == 5
    assert orders["status"] == {"2xx": 2, "3xx": 1, "4xx": 1, "5xx": 1}
    assert (orders["bytes_in"], orders["bytes_out"]) == (210, 1130)
    assert orders["rejected"] == {"auth": 1, "rate": 0, "quota": 0, "busy": 1}
    assert rows[1]["rejected"] == {"auth": 0, "rate": 1, "quota": 0, "busy": 0}
    assert rows[1]["status"] == {"2xx": 0, "3xx": 0, "4xx": 1, "5xx": 0}


def test_rows_by_caller_split_each_listener() -> None:
    usage = UsageRecorder(clock=Clock())
    for _ in range(3):
        usage.record("orders", "acme", 200, 1, 2, 0.01)
    usage.record("orders", "globex", 500, 4, 8, 0.5)
    usage.record("invoices", "acme", 200, 16, 32, 0.01)
    usage.record("invoices", "acme", 200, 16, 32, 0.01)

    rows = usage.summary(by="caller")

    keys = [(row["listener"], row["caller"], row["requests"]) for row in rows]
    assert keys == [("orders", "acme", 3), ("invoices", "acme", 2), ("orders", "globex", 1)]
    globex = rows[2]
    assert globex["status"]["5xx"] == 1
    assert (globex["bytes_in"], globex["bytes_out"]) == (4, 8)
    assert globex["latency_ms"]["p99"] == pytest.approx(500, rel=PRECISION)


def test_statuses_outside_2xx_to_5xx_count_as_requests_only() -> None:
    usage = UsageRecorder(clock=Clock())
    usage.record("orders", "acme", 0, 0, 0, 0.01)  # e.g. the caller hung up
    usage.record("orders", "acme", 101, 0, 0, 0.01)
    [row] = usage.summary()
    assert row["requests"] == 2
    assert sum(row["status"].values()) == 0


def test_unknown_rejection_reason_and_grouping_are_refused() -> None:
    usage = UsageRecorder(clock=Clock())
    with pytest.raises(ValueError, match="rejected is one of"):
        usage.record("orders", "acme", 403, 0, 0, 0.01, rejected="banned")
    with pytest.raises(ValueError, match="by is"):
        usage.summary(by="process")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "latencies",
    [
        [ms / 1000 for ms in range(1, 1001)],  # uniform 1 ms .. 1 s
        [random.Random(7).lognormvariate(math.log(0.04), 1.0) for _ in range(20_000)],
        [0.002] * 90 + [0.250] * 9 + [3.0],  # fast, with a slow tail
    ],
    ids=["uniform", "lognormal", "tail"],
)
def test_percentiles_are_within_the_documented_precision(latencies: list[float]) -> None:
    usage = UsageRecorder(clock=Clock())
    for seconds in latencies:
        usage.record("orders", "acme", 200, 0, 0, seconds)
    [row] = usage.summary()
    for percent in (50, 95, 99):
        exact_ms = nearest_rank(latencies, percent) * 1000
        assert row["latency_ms"][f"p{percent}"] == pytest.approx(exact_ms, rel=PRECISION)


def test_tail_percentiles_tell_fast_and_slow_requests_apart() -> None:
    usage = UsageRecorder(clock=Clock())
    for seconds in [0.002] * 94 + [0.250] * 5 + [3.0]:
        usage.record("orders", "acme", 200, 0, 0, seconds)
    [row] = usage.summary()
    latency = row["latency_ms"]
    assert latency["p50"] < 2.1
    assert 240 < latency["p95"] < 260
    assert 240 < latency["p99"] < 260  # 99th of 100 is still a 250 ms one


def test_every_bucket_reads_within_the_precision() -> None:
    rng = random.Random(3)
    latencies = [10 ** rng.uniform(-5, 3.5) for _ in range(10_000)]  # 10 µs .. ~53 min
    usage = UsageRecorder(max_callers_per_minute=len(latencies), clock=Clock())
    for caller, seconds in enumerate(latencies):  # one caller each: p50 is its bucket
        usage.record("orders", str(caller), 200, 0, 0, seconds)
    read = {row["caller"]: row["latency_ms"]["p50"] for row in usage.summary(by="caller")}
    for caller, seconds in enumerate(latencies):
        # Milliseconds with three decimals: the rounding adds at most half a microsecond.
        exact_ms = seconds * 1000
        assert abs(read[str(caller)] - exact_ms) <= exact_ms * PRECISION + 0.0005
    for seconds, expected_ms in [(0.0, 0.01), (-1.0, 0.01), (1e9, pytest.approx(3796e3, rel=0.01))]:
        usage = UsageRecorder(clock=Clock())
        usage.record("orders", "acme", 200, 0, 0, seconds)
        assert usage.summary()[0]["latency_ms"]["p50"] == expected_ms


def test_since_selects_whole_minutes_and_defaults_to_the_last_hour() -> None:
    clock = Clock()
    usage = UsageRecorder(clock=clock)
    usage.record("orders", "early", 200, 0, 0, 0.01)  # T0
    clock.now = T0 + 60 + 30
    usage.record("orders", "late", 200, 0, 0, 0.01)  # minute T0+60
    clock.now = T0 + 3600 + 80  # an hour ago is inside the late minute

    assert [row["caller"] for row in usage.summary(by="caller")] == ["late"]
    everything = usage.summary(since=T0 + 59, by="caller")  # inside T0's minute
    assert sorted(row["caller"] for row in everything) == ["early", "late"]
    assert [row["caller"] for row in usage.summary(since=T0 + 60, by="caller")] == ["late"]
    assert usage.summary(since=T0 + 7200) == []


def test_minutes_older_than_the_window_are_dropped() -> None:
    clock = Clock()
    # Room for two aggregates: a count not lowered as minutes expire would drop more.
    usage = UsageRecorder(window=3600, max_callers_per_minute=1, max_series=2, clock=clock)
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    clock.now = T0 + 3540  # 59 minutes later: T0's minute is still in the window
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    assert usage.minutes() == [int(T0), int(T0) + 3540]
    assert usage.summary(since=0)[0]["requests"] == 2

    clock.now = T0 + 3600
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    assert usage.minutes() == [int(T0) + 3540, int(T0) + 3600]
    assert usage.summary(since=0)[0]["requests"] == 2

    clock.now = T0 + 10 * 3600  # idle since: a summary drops the stale minutes too
    assert usage.summary(since=0) == []
    assert usage.minutes() == []
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    clock.now += 60
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    assert len(usage.minutes()) == 2  # both fit: the dropped minutes no longer count


def test_a_clock_stepping_back_keeps_recording_into_the_current_minute() -> None:
    clock = Clock(T0 + 120)
    usage = UsageRecorder(clock=clock)
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    clock.now = T0
    usage.record("orders", "acme", 200, 0, 0, 0.01)
    assert usage.minutes() == [int(T0) + 120]
    assert usage.summary(since=0)[0]["requests"] == 2


def test_callers_past_the_limit_in_a_minute_fold_into_other() -> None:
    clock = Clock()
    usage = UsageRecorder(max_callers_per_minute=3, clock=clock)
    for caller in ["a", "b", "c", "d", "e", "a", "e"]:
        usage.record("orders", caller, 200, 1, 1, 0.01)

    rows = {row["caller"]: row["requests"] for row in usage.summary(by="caller")}
    assert rows == {"a": 2, "b": 1, "c": 1, OTHER: 3}  # three callers and the fold

    clock.now = T0 + 60  # a new minute has room again
    usage.record("orders", "e", 200, 1, 1, 0.01)
    rows = {row["caller"]: row["requests"] for row in usage.summary(by="caller")}
    assert rows["e"] == 1
    assert rows[OTHER] == 3


def test_a_flood_of_callers_shortens_the_window_instead_of_growing() -> None:
    clock = Clock()
    usage = UsageRecorder(max_callers_per_minute=100, max_series=250, clock=clock)
    for minute in range(10):
        clock.now = T0 + 60 * minute
        for caller in range(150):
            usage.record("orders", f"bot-{minute}-{caller}", 401, 10, 0, 0.001, rejected="auth")

    assert usage.minutes() == [int(T0) + 60 * 8, int(T0) + 60 * 9]
    # Callers are new every minute, so each row but the fold is one aggregate; the fold
    # is one per minute held.
    rows = usage.summary(since=0, by="caller")
    assert len(rows) - 1 + len(usage.minutes()) <= 250 + 1  # plus at most one fold per listener
    [row] = usage.summary(since=0)
    assert row["requests"] == 2 * 150
    assert row["rejected"]["auth"] == 2 * 150


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        UsageRecorder(window=30)
    with pytest.raises(ValueError):
        UsageRecorder(max_callers_per_minute=100, max_series=10)


def test_a_refused_record_counts_nothing() -> None:
    usage = UsageRecorder(clock=Clock())
    with pytest.raises(ValueError):
        usage.record("orders", "acme", 403, 5, 5, 0.01, rejected="banned")
    assert usage.summary() == []
