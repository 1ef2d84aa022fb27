"""runtime.core.retry: the back-off arithmetic and the retry loop, on an injected sleep."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from runtime.core.retry import RetryPolicy, TryAgain, retrying


class Sleeper:
    """Records the waits asked for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Flaky:
    """An attempt that raises `failures` errors, then returns its attempt number."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.numbers: list[int] = []

    async def __call__(self, number: int) -> int:
        self.numbers.append(number)
        if self.failures:
            raise self.failures.pop(0)
        return number


class Edge(random.Random):
    """A random source that always picks one end of the range."""

    def __init__(self, top: bool) -> None:
        super().__init__()
        self.top = top

    def uniform(self, low: float, high: float) -> float:
        return high if self.top else low


def test_delay_grows_by_the_factor_up_to_the_bound() -> None:
    policy = RetryPolicy(attempts=5, backoff=0.5, factor=2.0, max_backoff=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert RetryPolicy().delay(1) == 1.0
    assert RetryPolicy().attempts == 1  # one try unless asked
    assert RetryPolicy(backoff=2, factor=1).delay(4) == 2.0  # a constant wait


def test_a_huge_factor_stops_at_the_bound() -> None:
    policy = RetryPolicy(attempts=10, backoff=1, factor=1e300, max_backoff=5)
    assert [policy.delay(n) for n in (1, 2, 10)] == [1.0, 5.0, 5.0]


def test_jitter_waits_between_zero_and_the_back_off() -> None:
    policy = RetryPolicy(attempts=5, backoff=0.5, factor=2.0, max_backoff=3.0, jitter=True)
    ceilings = [0.5, 1.0, 2.0, 3.0]
    assert [policy.delay(n, Edge(top=True)) for n in range(1, 5)] == ceilings
    assert [policy.delay(n, Edge(top=False)) for n in range(1, 5)] == [0.0] * 4
    rng = random.Random(5)
    spread = [policy.delay(4, rng) for _ in range(200)]
    assert all(0.0 <= wait <= 3.0 for wait in spread)
    assert len(set(spread)) > 100  # really random, not the ceiling every time


def test_yaml_spelling_durations_and_limits() -> None:
    policy = RetryPolicy.model_validate(
        {"attempts": 4, "backoff": "250ms", "factor": 3, "max_backoff": "1m", "jitter": True}
    )
    assert (policy.backoff, policy.max_backoff, policy.jitter) == (0.25, 60.0, True)
    for bad in ({"attempts": 0}, {"attempts": 11}, {"factor": 0.5}, {"backoff": "soon"}):
        with pytest.raises(ValidationError):
            RetryPolicy.model_validate(bad)
    with pytest.raises(ValidationError, match="extra"):
        RetryPolicy.model_validate({"retries": 3})  # a typo is refused, not ignored


async def test_a_first_success_neither_retries_nor_waits() -> None:
    sleep, attempt = Sleeper(), Flaky()
    assert await retrying(RetryPolicy(attempts=3), attempt, sleep=sleep) == 1
    assert (attempt.numbers, sleep.waits) == ([1], [])


async def test_retryable_failures_are_retried_after_the_back_off() -> None:
    sleep = Sleeper()
    attempt = Flaky(ValueError("one"), TryAgain(), ValueError("three"))
    policy = RetryPolicy(attempts=5, backoff=1, factor=3, max_backoff=5)
    assert await retrying(policy, attempt, retry_on=(ValueError,), sleep=sleep) == 4
    assert attempt.numbers == [1, 2, 3, 4]
    assert sleep.waits == [1.0, 3.0, 5.0]


async def test_the_last_failure_propagates_with_no_wait_after_it() -> None:
    sleep = Sleeper()
    attempt = Flaky(*(ValueError(f"failure {n}") for n in range(1, 4)))
    with pytest.raises(ValueError, match="failure 3"):
        await retrying(
            RetryPolicy(attempts=3, backoff=0.5), attempt, retry_on=(ValueError,), sleep=sleep
        )
    assert attempt.numbers == [1, 2, 3]
    assert sleep.waits == [0.5, 1.0]


async def test_other_errors_are_not_retried() -> None:
    sleep, attempt = Sleeper(), Flaky(KeyError("not retryable"), ValueError("never reached"))
    with pytest.raises(KeyError):
        await retrying(RetryPolicy(attempts=3), attempt, retry_on=(ValueError,), sleep=sleep)
    assert (attempt.numbers, sleep.waits) == ([1], [])


async def test_try_again_may_name_its_own_wait() -> None:
    sleep = Sleeper()
    attempt = Flaky(TryAgain(after=7.0), TryAgain(after=0.0), TryAgain())
    policy = RetryPolicy(attempts=4, backoff=2)
    assert await retrying(policy, attempt, sleep=sleep) == 4
    assert sleep.waits == [7.0, 0.0, 8.0]  # the third wait is the policy's again


async def test_a_single_attempt_is_never_retried() -> None:
    sleep, attempt = Sleeper(), Flaky(TryAgain(after=1.0))
    with pytest.raises(TryAgain):
        await retrying(RetryPolicy(), attempt, sleep=sleep)
    assert (attempt.numbers, sleep.waits) == ([1], [])


async def test_jittered_waits_come_from_the_given_random_source() -> None:
    sleep = Sleeper()
    attempt = Flaky(TryAgain(), TryAgain())
    policy = RetryPolicy(attempts=3, backoff=1, jitter=True)
    await retrying(policy, attempt, sleep=sleep, rng=Edge(top=False))
    assert sleep.waits == [0.0, 0.0]
