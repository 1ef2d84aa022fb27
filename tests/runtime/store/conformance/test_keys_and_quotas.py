"""Key ring and quota ledger contracts: keys added, listed, revoked; quotas never overshoot."""

from __future__ import annotations

import asyncio
import time

from runtime.store import ApiKeyRecord
from tests.runtime.store.conformance.conftest import Stores


async def test_api_keys_are_added_listed_and_revoked(stores: Stores) -> None:
    store = await stores.open()
    key = ApiKeyRecord("k1", "ci", "ab" * 32, False, ["orders"], time.time())
    await store.add_api_key(key)
    assert [k.as_dict() for k in await store.api_keys()] == [key.as_dict()]
    assert await store.revoke_api_key("k1") is True
    assert await store.revoke_api_key("k1") is False  # already revoked
    assert await store.revoke_api_key("nope") is False
    (revoked,) = await store.api_keys()
    assert revoked.revoked_at is not None


async def test_api_keys_are_listed_oldest_first_with_their_hashes(stores: Stores) -> None:
    store = await stores.open()
    newer = ApiKeyRecord("k2", "ops", "cd" * 32, True, None, 2000.0)
    older = ApiKeyRecord("k1", "ci", "ab" * 32, False, ["orders", "invoices"], 1000.0)
    await store.add_api_key(newer)
    await store.add_api_key(older)
    restarted = await stores.restart(store)
    assert await restarted.api_keys() == [older, newer]


async def test_quotas_count_up_to_the_limit_and_never_past_it(stores: Stores) -> None:
    store = await stores.open()
    assert await store.consume_quota("l|c", "day:2026-12-02", 5, 3) is None  # too big at once
    results = await asyncio.gather(
        *(store.consume_quota("l|c", "day:2026-12-02", 1, 3) for _ in range(5))
    )
    assert sorted(r for r in results if r is not None) == [1, 2, 3]
    assert results.count(None) == 2
    assert await store.consume_quota("l|c", "day:2026-12-03", 1, 3) == 1  # a new period
    reopened = await stores.restart(store)
    assert await reopened.consume_quota("l|c", "day:2026-12-02", 1, 3) is None  # survives


async def test_quotas_are_counted_per_key_and_shared_by_stores(stores: Stores) -> None:
    one, other = await stores.open(), await stores.open()
    results = await asyncio.gather(
        *(s.consume_quota("l|a", "month:2026-12", 2, 10) for s in [one, other] * 4)
    )
    assert sorted(r for r in results if r is not None) == [2, 4, 6, 8, 10]
    assert results.count(None) == 3
    assert await other.consume_quota("l|b", "month:2026-12", 10, 10) == 10  # another key
