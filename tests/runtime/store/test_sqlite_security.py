"""The SQLite store's API keys (hashes only) and quota counters."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from runtime.store import ApiKeyRecord
from runtime.store.sqlite import SQLiteStore


async def test_api_keys_are_added_listed_and_revoked(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()
    key = ApiKeyRecord("k1", "ci", "ab" * 32, False, ["orders"], time.time())
    await store.add_api_key(key)
    assert [k.as_dict() for k in await store.api_keys()] == [key.as_dict()]
    assert await store.revoke_api_key("k1") is True
    assert await store.revoke_api_key("k1") is False  # already revoked
    assert await store.revoke_api_key("nope") is False
    (revoked,) = await store.api_keys()
    assert revoked.revoked_at is not None
    await store.close()


async def test_quotas_count_up_to_the_limit_and_never_past_it(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()
    assert await store.consume_quota("l|c", "day:2026-12-02", 5, 3) is None  # too big at once
    results = await asyncio.gather(
        *(store.consume_quota("l|c", "day:2026-12-02", 1, 3) for _ in range(5))
    )
    assert sorted(r for r in results if r is not None) == [1, 2, 3]
    assert results.count(None) == 2
    assert await store.consume_quota("l|c", "day:2026-12-03", 1, 3) == 1  # a new period
    await store.close()
    reopened = SQLiteStore(str(tmp_path / "s.db"))
    await reopened.open()
    assert await reopened.consume_quota("l|c", "day:2026-12-02", 1, 3) is None  # survives
    await reopened.close()


async def test_pruning_drops_quota_counters_of_long_past_periods(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()
    today = time.strftime("day:%Y-%m-%d", time.gmtime())
    this_month = time.strftime("month:%Y-%m", time.gmtime())
    for period in ("day:2020-01-01", today, "month:2020-01", this_month):
        assert await store.consume_quota("l|c", period, 1, 5) == 1
    await store.prune(older_than=None, keep=None)
    assert await store.consume_quota("l|c", "day:2020-01-01", 1, 5) == 1  # counted afresh
    assert await store.consume_quota("l|c", today, 1, 5) == 2  # kept
    assert await store.consume_quota("l|c", "month:2020-01", 1, 5) == 1
    assert await store.consume_quota("l|c", this_month, 1, 5) == 2
    await store.close()


async def test_pruning_forgets_moved_files_but_remembers_kept_ones(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()
    statuses = ["done", "error", "changed", "done-kept", "error-kept", "running"]
    for status in statuses:
        assert await store.claim_item("p", f"f-{status}", "me", 0.0)
        if status != "running":
            await store.finish_item("p", f"f-{status}", status, None)
    await store.prune(older_than=time.time() + 1, keep=None)
    left = await store.known_items("p", [f"f-{status}" for status in statuses])
    assert left == {"f-done-kept", "f-error-kept"}  # (running items are never "known")
    assert not await store.claim_item("p", "f-running", "other", 0.0)  # still claimed
    await store.close()
