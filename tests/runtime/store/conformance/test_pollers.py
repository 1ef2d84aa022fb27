"""Poller memory contract: saved values, and items claimed once, finished, forgotten."""

from __future__ import annotations

import asyncio
import time

from runtime.store import Store
from tests.runtime.store.conformance.conftest import Stores


async def test_values_round_trip_per_process_and_survive_a_restart(stores: Stores) -> None:
    store = await stores.open()
    assert await store.poller_value("orders", "watermark") is None
    value = {"column": "updated_at", "last": "2026-12-02T10:00:00", "id": 2**70}
    await store.set_poller_value("orders", "watermark", value)
    await store.set_poller_value("orders", "etag", '"abc"')
    await store.set_poller_value("invoices", "watermark", 7)
    assert await store.poller_value("orders", "watermark") == value
    await store.set_poller_value("orders", "watermark", [1, 2])  # replaced
    restarted = await stores.restart(store)
    assert await restarted.poller_value("orders", "watermark") == [1, 2]
    assert await restarted.poller_value("orders", "etag") == '"abc"'
    assert await restarted.poller_value("invoices", "watermark") == 7
    assert await restarted.poller_value("invoices", "etag") is None


async def test_an_item_is_claimed_once_then_known(store: Store) -> None:
    fresh = time.time() - 60
    assert await store.claim_item("inbox", "a.xml|10|1", "r1", fresh) is True
    assert await store.claim_item("inbox", "a.xml|10|1", "r2", fresh) is False  # still running
    assert await store.known_items("inbox", ["a.xml|10|1"]) == set()  # running: not known yet
    await store.finish_item("inbox", "a.xml|10|1", "done", "0190-x")
    assert await store.known_items("inbox", ["a.xml|10|1", "b.xml|1|1"]) == {"a.xml|10|1"}
    assert await store.known_items("other", ["a.xml|10|1"]) == set()  # per process
    assert await store.claim_item("inbox", "a.xml|10|1", "r2", time.time() + 1) is False  # done


async def test_a_claim_of_a_dead_runtime_can_be_taken_over(store: Store) -> None:
    assert await store.claim_item("inbox", "a", "dead", 0.0) is True
    assert await store.claim_item("inbox", "a", "alive", 0.0) is False
    assert await store.claim_item("inbox", "a", "alive", time.time() + 1) is True  # stale


async def test_concurrent_claims_of_one_item_let_one_through(stores: Stores) -> None:
    one, other = await stores.open(), await stores.open()
    claims = await asyncio.gather(
        *(s.claim_item("inbox", "a", f"r{n}", 0.0) for n, s in enumerate([one, other] * 3))
    )
    assert sorted(claims) == [False] * 5 + [True]


async def test_a_released_item_is_taken_again(store: Store) -> None:
    await store.claim_item("inbox", "a", "r1", 0.0)
    await store.finish_item("inbox", "a", "error", None)
    assert await store.known_items("inbox", ["a"]) == {"a"}
    await store.release_item("inbox", "a")
    assert await store.known_items("inbox", ["a"]) == set()
    assert await store.claim_item("inbox", "a", "r2", 0.0) is True


async def test_many_items_are_looked_up_at_once(store: Store) -> None:
    keys = [f"f{n:04d}" for n in range(1200)]
    assert all(await asyncio.gather(*(store.claim_item("p", k, "r", 0.0) for k in keys)))
    await asyncio.gather(*(store.finish_item("p", k, "done", None) for k in keys[::2]))
    assert await store.known_items("p", [*keys, "nope"]) == set(keys[::2])
