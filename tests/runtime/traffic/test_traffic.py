"""runtime.traffic: token buckets, stored quotas, concurrency caps, CORS and their configs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from runtime.core.errors import RequestError
from runtime.store.sqlite import SQLiteStore
from runtime.traffic.config import Cors, Quota, RateLimit, TrafficConfig
from runtime.traffic.cors import cors_headers, cors_preflight
from runtime.traffic.limits import (
    ConcurrencyLimiter,
    QuotaCounter,
    RateLimiter,
    listener_busy,
    quota_exceeded,
    quota_period,
    rate_limit_headers,
    rate_limited,
)


def limiter(**config: Any) -> RateLimiter:
    return RateLimiter(RateLimit(**config))


def epoch(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> float:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC).timestamp()


# --- rate limits -------------------------------------------------------------------


def test_a_burst_over_the_limit_is_refused_until_the_next_token() -> None:
    rl = limiter(requests=3, per="minute")  # one token every 20 s, bucket of 3
    decisions = [rl.check("a", now=100.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.limit == 3
    assert refused.retry_after == 20
    assert refused.reset == pytest.approx(60.0)
    assert rl.check("a", now=119.5).retry_after == 1  # 0.5 s left: rounded up
    assert not rl.check("a", now=119.5).allowed
    assert rl.check("a", now=120.0).allowed  # exactly one token back
    assert not rl.check("a", now=120.0).allowed


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    rl = limiter(requests=10, per="second", burst=2)
    assert [rl.check("a", now=0.0).allowed for _ in range(3)] == [True, True, False]
    assert rl.check("a", now=0.1).allowed  # 10/s: one token per 0.1 s
    assert not rl.check("a", now=0.1).allowed
    # A long quiet spell fills the bucket only up to the burst, not beyond.
    assert [rl.check("a", now=1000.0).allowed for _ in range(3)] == [True, True, False]


def test_retry_after_is_at_least_one_second() -> None:
    rl = limiter(requests=1000, per="second", burst=1)
    assert rl.check("a", now=0.0).allowed
    refused = rl.check("a", now=0.0009999995)  # a hair short of the next token
    assert (refused.allowed, refused.retry_after) == (False, 1)


def test_a_refused_request_takes_no_token() -> None:
    rl = limiter(requests=1, per="second")
    assert rl.check("a", now=0.0).allowed
    for _ in range(5):
        assert not rl.check("a", now=0.5).allowed
    assert rl.check("a", now=1.0).allowed


def test_callers_have_their_own_buckets() -> None:
    rl = limiter(requests=1, per="hour")
    assert rl.check("a", now=0.0).allowed
    assert not rl.check("a", now=1.0).allowed
    assert rl.check("b", now=1.0).allowed
    assert len(rl) == 2


def test_by_listener_shares_one_bucket() -> None:
    rl = limiter(requests=2, per="second", by="listener")
    assert rl.check("a", now=0.0).allowed
    assert rl.check("b", now=0.0).allowed
    assert not rl.check("c", now=0.0).allowed
    assert len(rl) == 1


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    rl = limiter(requests=1, per="second")
    assert rl.check("a", now=10.0).allowed
    assert not rl.check("a", now=5.0).allowed
    assert not rl.check("a", now=10.5).allowed
    assert rl.check("a", now=11.0).allowed


def test_check_uses_the_monotonic_clock_by_default() -> None:
    rl = limiter(requests=1, per="hour")
    assert rl.check("a").allowed
    refused = rl.check("a")
    assert not refused.allowed
    assert 3590 <= refused.retry_after <= 3600


def test_headers_follow_the_ratelimit_draft() -> None:
    rl = limiter(requests=3, per="minute")
    allowed = rl.check("a", now=0.0)
    assert rate_limit_headers(allowed) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "20",  # one token spent: full again in 20 s
    }
    rl.check("a", now=0.0)
    rl.check("a", now=0.0)
    refused = rl.check("a", now=5.0)
    assert rate_limit_headers(refused) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "55",
        "Retry-After": "15",
    }


def test_a_refusal_is_a_429_problem_with_the_headers() -> None:
    rl = limiter(requests=1, per="minute")
    rl.check("a", now=0.0)
    error = rate_limited(rl.check("a", now=30.0))
    assert (error.status, error.problem, error.title) == (429, "rate-limited", "Too many requests")
    assert error.headers["Retry-After"] == "30"
    assert error.headers["RateLimit-Remaining"] == "0"


def test_idle_full_buckets_are_dropped_as_new_callers_arrive() -> None:
    rl = limiter(requests=1, per="second")
    for i in range(50):
        rl.check(f"old{i}", now=0.0)
    assert len(rl) == 50
    # Two seconds later every old bucket is full again: each newcomer clears two.
    for i in range(30):
        rl.check(f"new{i}", now=2.0)
    assert len(rl) == 30
    assert rl.check("new0", now=2.0).allowed is False  # active buckets are kept


def test_the_bucket_table_is_capped_and_evicts_the_least_recently_seen() -> None:
    rl = RateLimiter(RateLimit(requests=1, per="hour"), max_callers=100)
    regular = []
    for i in range(10_000):
        rl.check(f"caller{i}", now=i / 100)  # all still empty: none idle
        if i % 50 == 0:
            regular.append(rl.check("regular", now=i / 100).allowed)
        assert len(rl) <= 100
    assert len(rl) == 100
    # Seen every 50 new callers, "regular" is never the least recent: its bucket is kept.
    assert regular == [True] + [False] * 199
    assert rl.check("caller0", now=100.0).allowed  # evicted: starts over


# --- quotas ------------------------------------------------------------------------


def test_quota_periods_are_utc_calendar_days_and_months() -> None:
    now = epoch(2026, 12, 2, 23, 59, 59)
    assert quota_period("day", now) == ("day:2026-12-02", epoch(2026, 12, 2), epoch(2026, 12, 3))
    assert quota_period("month", now) == ("month:2026-12", epoch(2026, 12, 1), epoch(2027, 1, 1))
    assert quota_period("month", epoch(2026, 2, 28))[2] == epoch(2026, 3, 1)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(str(tmp_path / "store.db"))
    await opened.open()
    yield opened
    await opened.close()


async def test_a_quota_counts_to_its_limit_then_refuses_until_the_period_ends(
    store: SQLiteStore,
) -> None:
    quota = QuotaCounter(Quota(requests=2, per="day"), store)
    now = epoch(2026, 12, 2, 18)
    first = await quota.consume("orders", "k1", now=now)
    assert first == (True, 2, 1, epoch(2026, 12, 3), 6 * 3600)
    assert (await quota.consume("orders", "k1", now=now)).used == 2
    refused = await quota.consume("orders", "k1", now=now + 0.5)
    assert (refused.allowed, refused.used, refused.retry_after) == (False, 2, 6 * 3600)
    assert (await quota.consume("orders", "k2", now=now)).allowed  # another caller
    assert (await quota.consume("invoices", "k1", now=now)).allowed  # another listener
    next_day = await quota.consume("orders", "k1", now=epoch(2026, 12, 3, 0, 0, 1))
    assert (next_day.allowed, next_day.used) == (True, 1)


async def test_a_quota_survives_a_reopen_of_the_store(tmp_path: Path) -> None:
    config = Quota(requests=3, per="month", by="listener")
    now = epoch(2026, 12, 31, 12)
    first = SQLiteStore(str(tmp_path / "q.db"))
    await first.open()
    quota = QuotaCounter(config, first)
    assert [(await quota.consume("orders", c, now=now)).used for c in "ab"] == [1, 2]
    await first.close()
    reopened = SQLiteStore(str(tmp_path / "q.db"))
    await reopened.open()
    quota = QuotaCounter(config, reopened)
    assert (await quota.consume("orders", "c", now=now)).used == 3
    refused = await quota.consume("orders", "d", now=now)
    assert not refused.allowed
    assert refused.period_end == epoch(2027, 1, 1)
    assert (await quota.consume("orders", "d", now=epoch(2027, 1, 1))).used == 1
    await reopened.close()


async def test_concurrent_quota_requests_never_overshoot(store: SQLiteStore) -> None:
    quota = QuotaCounter(Quota(requests=5, per="day"), store)
    results = await asyncio.gather(*(quota.consume("orders", "k") for _ in range(20)))
    assert sum(r.allowed for r in results) == 5
    assert sorted(r.used for r in results if r.allowed) == [1, 2, 3, 4, 5]


async def test_quota_refusals_are_429_problems(store: SQLiteStore) -> None:
    quota = QuotaCounter(Quota(requests=1, per="day"), store)
    assert (await quota.consume("orders", "k")).allowed
    refused = await quota.consume("orders", "k")
    assert not refused.allowed
    error = quota_exceeded(refused)
    assert (error.status, error.problem) == (429, "quota-exceeded")
    assert 1 <= int(error.headers["Retry-After"]) <= 86_400
    late = epoch(2026, 1, 1, 23, 59, 59, 500_000)
    assert (await quota.consume("orders", "k", now=late)).allowed
    refused = await quota.consume("orders", "k", now=late)
    assert quota_exceeded(refused).headers == {"Retry-After": "1"}  # never 0


# --- concurrency -------------------------------------------------------------------


def test_the_concurrency_limiter_refuses_past_its_max_without_waiting() -> None:
    cl = ConcurrencyLimiter(2)
    assert cl.try_acquire() and cl.try_acquire()
    assert not cl.try_acquire()
    cl.release()
    assert cl.try_acquire()
    assert cl.active == 2
    cl.release()
    cl.release()
    with pytest.raises(RuntimeError):
        cl.release()


async def test_the_concurrency_limiter_as_a_context_manager() -> None:
    cl = ConcurrencyLimiter(1)
    async with cl:
        with pytest.raises(RequestError) as caught, cl:
            pass
        assert cl.active == 1
    assert cl.active == 0
    error = caught.value
    assert (error.status, error.problem, error.headers) == (
        503,
        "listener-busy",
        {"Retry-After": "1"},
    )
    with pytest.raises(ValueError), cl:
        raise ValueError("the slot is freed on errors")
    assert cl.active == 0
    assert listener_busy().status == 503


# --- CORS --------------------------------------------------------------------------


def preflight(origin: str | None, method: str = "POST", headers: str = "") -> Any:
    sent = {"Access-Control-Request-Method": method}
    if origin is not None:
        sent["Origin"] = origin
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return make_mocked_request("OPTIONS", "/orders", headers=sent)


def test_an_allowed_preflight_gets_204_and_the_allowances() -> None:
    cors = Cors(origins=["https://App.example.com"], credentials=True, max_age="1h")
    response = cors_preflight(
        cors,
        preflight("https://app.example.com", headers="content-type, X-Api-Key"),
        listener_method="POST",
    )
    assert response is not None
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == (
        "Content-Type, Authorization, X-API-Key, Idempotency-Key"
    )
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "reason"),
    [
        ("https://evil.example.com", "POST", "", "origin https://evil.example.com"),
        ("https://app.example.com", "DELETE", "", "method DELETE"),
        ("https://app.example.com", "POST", "X-Secret", "X-Secret"),
    ],
)
def test_a_refused_preflight_is_a_403_problem(
    origin: str, method: str, headers: str, reason: str
) -> None:
    cors = Cors(origins=["https://app.example.com"])
    response = cors_preflight(cors, preflight(origin, method, headers), listener_method="POST")
    assert response is not None
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.body is not None
    body = orjson.loads(response.body)  # type: ignore[arg-type]
    assert body["type"] == "urn:wharf:problem:cors-refused"
    assert reason in body["detail"]


def test_configured_methods_replace_the_listener_method() -> None:
    cors = Cors(origins=["*"], methods=["put", "patch"])
    ok = cors_preflight(cors, preflight("https://x.example", "PATCH"), listener_method="POST")
    assert ok is not None and ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert ok.headers["Access-Control-Allow-Methods"] == "PUT, PATCH"
    refused = cors_preflight(cors, preflight("https://x.example"), listener_method="POST")
    assert refused is not None and refused.status == 403


def test_a_plain_options_request_is_not_a_preflight() -> None:
    cors = Cors(origins=["*"])
    assert cors_preflight(cors, preflight(None), listener_method="POST") is None
    no_method = make_mocked_request("OPTIONS", "/orders", headers={"Origin": "https://x.io"})
    assert cors_preflight(cors, no_method, listener_method="POST") is None


def test_actual_response_headers() -> None:
    listed = Cors(origins=["https://app.example.com"], credentials=True, expose_headers=["X-A"])
    assert cors_headers(listed, "https://app.example.com") == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Vary": "Origin",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "X-A",
    }
    assert cors_headers(listed, "https://evil.example.com") == {"Vary": "Origin"}
    assert cors_headers(listed, None) == {"Vary": "Origin"}
    anyone = Cors(origins=["*"])
    headers = cors_headers(anyone, None)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in headers  # the same answer for every origin
    assert "RateLimit-Remaining" in headers["Access-Control-Expose-Headers"]


# --- config ------------------------------------------------------------------------


def test_a_full_traffic_config_parses() -> None:
    config = TrafficConfig.model_validate(
        {
            "rate_limit": {"requests": 100, "per": "minute", "burst": 20, "by": "listener"},
            "quota": {"requests": 10_000, "per": "month"},
            "max_concurrent": 8,
            "cors": {"origins": ["https://app.example.com:8443"], "max_age": "10m"},
        }
    )
    assert config.rate_limit is not None and config.rate_limit.burst == 20
    assert config.quota is not None and config.quota.by == "caller"
    assert config.cors is not None and config.cors.max_age == 600.0
    assert config.cors.allowed_methods("GET") == ["GET", "OPTIONS"]
    assert TrafficConfig().model_dump() == {
        "rate_limit": None,
        "quota": None,
        "max_concurrent": None,
        "cors": None,
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rate_limit": {"requests": 0, "per": "minute"}}, "greater than or equal to 1"),
        ({"rate_limit": {"requests": 5, "per": "day"}}, "'second', 'minute' or 'hour'"),
        ({"rate_limit": {"requests": 5, "per": "second", "burst": 0}}, "greater than"),
        ({"rate_limit": {"requests": 5, "per": "second", "brust": 9}}, "Extra inputs"),
        ({"quota": {"requests": 5, "per": "hour"}}, "'day' or 'month'"),
        ({"quota": {"requests": 5, "per": "day", "by": "ip"}}, "'listener' or 'caller'"),
        ({"max_concurrent": 0}, "greater than or equal to 1"),
        ({"cors": {"origins": []}}, "at least 1 item"),
        ({"cors": {"origins": ["*"], "credentials": True}}, "credentials cannot be allowed"),
        ({"cors": {"origins": ["*", "https://a.io"]}}, "cannot be listed with others"),
        ({"cors": {"origins": ["https://a.io/"]}}, "not an origin: https://a.io/"),
        ({"cors": {"origins": ["a.io"]}}, "not an origin"),
        ({"cors": {"origins": ["*"], "methods": []}}, "at least one method"),
        ({"cors": {"origins": ["*"], "headers": ["X-A, X-B"]}}, "not a valid header name"),
        ({"cors": {"origins": ["*"], "max_age": "soon"}}, "a duration is"),
    ],
)
def test_invalid_traffic_configs_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TrafficConfig.model_validate(config)
    assert message in str(caught.value)
