"""Inbox contract: accept -> claim (attempt) -> finish, idempotency keys, resumed attempts."""

from __future__ import annotations

import asyncio

from runtime.store import InboxItem, Store
from tests.runtime.store.conformance.conftest import Stores
from tests.runtime.store.conformance.makers import item, record, scoped


async def test_concurrent_accepts_each_get_an_execution_and_wait_in_the_inbox(
    store: Store,
) -> None:
    items = [item() for _ in range(500)]
    results = await asyncio.gather(*(store.accept(i) for i in items))
    assert [r.execution_id for r in results] == [i.id for i in items]
    assert not any(r.duplicate for r in results)
    unfinished = await store.unfinished()
    assert [u.id for u in unfinished] == sorted(i.id for i in items)
    queued = await store.get_execution(items[0].id)
    assert queued is not None and queued.status == "queued"


async def test_an_accepted_item_keeps_its_request_and_fields(store: Store) -> None:
    accepted = item("k")
    accepted.request = {"body": "PGEvPg==", "media_type": "application/xml", "properties": {"n": 1}}
    accepted.parent_id = "0190-parent"
    await store.accept(accepted)
    (waiting,) = await store.unfinished()
    expected = (accepted.id, "p", "listener", accepted.received_at, "k", "0190-parent")
    assert (waiting.id, waiting.process, waiting.trigger) == expected[:3]
    assert (waiting.received_at, waiting.idempotency_key, waiting.parent_id) == expected[3:]
    assert waiting.request == accepted.request
    assert await store.inbox_request(accepted.id) == accepted.request
    queued = await store.get_execution(accepted.id)
    assert queued is not None
    assert (queued.process, queued.trigger, queued.created_at) == (
        "p",
        "listener",
        waiting.received_at,
    )
    assert (queued.parent_id, queued.idempotency_key, queued.attempt) == ("0190-parent", "k", 1)


async def test_unknown_ids_have_no_request_and_no_record(store: Store) -> None:
    assert await store.inbox_request("0190-nope") is None
    assert await store.get_execution("0190-nope") is None


async def test_accept_claim_finish_and_start_the_next(store: Store) -> None:
    first, second = item(), item()
    await store.accept(first)
    await store.accept(second)
    attempt = await store.start_attempt(first.id)
    assert (attempt.number, attempt.earlier, attempt.token_root) == (1, [], None)
    running = await store.get_execution(first.id)
    assert running is not None and running.status == "running"
    assert running.started_at is not None
    # One commit saves the first item's outcome and starts the second one.
    following = await store.finish_and_start(record(first.id), second.id)
    assert (following.number, following.earlier) == (1, [])
    done = await store.get_execution(first.id)
    assert done is not None and done.status == "succeeded"
    started = await store.get_execution(second.id)
    assert started is not None and started.status == "running"
    assert [u.id for u in await store.unfinished()] == [second.id]
    await store.save_execution(record(second.id, status="failed"), finish_inbox=True)
    assert await store.unfinished() == []


async def test_idempotency_keys(store: Store) -> None:
    first, same, other = item("k"), item("k"), item("k", process="q")
    a, b, c = await asyncio.gather(store.accept(first), store.accept(same), store.accept(other))
    assert (a.execution_id, a.duplicate) == (first.id, False)
    assert (b.execution_id, b.duplicate) == (first.id, True)
    assert (c.execution_id, c.duplicate) == (other.id, False)  # keys are per process
    later = await store.accept(item("k"))
    assert (later.execution_id, later.duplicate) == (first.id, True)
    assert {u.id for u in await store.unfinished()} == {first.id, other.id}
    # The key names the first execution: a duplicate leaves no record of its own.
    assert await store.get_execution(same.id) is None
    kept = await store.get_execution(first.id)
    assert kept is not None and kept.idempotency_key == "k"


async def test_idempotency_keys_are_scoped_to_callers_and_bound_to_requests(
    store: Store,
) -> None:
    alpha, beta = scoped("key:a", "h1"), scoped("key:b", "h2")
    a, b = await asyncio.gather(store.accept(alpha), store.accept(beta))
    assert (a.execution_id, a.duplicate, a.conflict) == (alpha.id, False, False)
    assert (b.execution_id, b.duplicate, b.conflict) == (beta.id, False, False)
    same = await store.accept(scoped("key:a", "h1"))
    assert (same.execution_id, same.duplicate, same.conflict) == (alpha.id, True, False)
    other = scoped("key:a", "h3")
    changed = await store.accept(other)
    assert (changed.execution_id, changed.duplicate, changed.conflict) == (alpha.id, True, True)
    assert await store.get_execution(other.id) is None
    assert {u.id for u in await store.unfinished()} == {alpha.id, beta.id}
    # Caller b's key names b's execution, not a's.
    again = await store.accept(scoped("key:b", "h2"))
    assert (again.execution_id, again.duplicate, again.conflict) == (beta.id, True, False)
    # In one batch too: the first of two different requests wins, the second conflicts.
    first, second = scoped("key:c", "x"), scoped("key:c", "y")
    c1, c2 = await asyncio.gather(store.accept(first), store.accept(second))
    assert (c1.duplicate, c2.execution_id, c2.conflict) == (False, first.id, True)


async def test_a_key_without_a_request_hash_never_conflicts(store: Store) -> None:
    # A key taken from the body by the process's own expression names the delivery itself.
    first = scoped("", None)
    await store.accept(first)
    for fingerprint in (None, "h1"):
        later = await store.accept(scoped("", fingerprint))
        assert (later.execution_id, later.duplicate, later.conflict) == (first.id, True, False)
    hashed = scoped("key:a", "h1")
    await store.accept(hashed)
    unhashed = await store.accept(scoped("key:a", None))
    assert (unhashed.execution_id, unhashed.duplicate, unhashed.conflict) == (
        hashed.id,
        True,
        False,
    )


async def test_a_retry_continues_its_parents_attempts(store: Store) -> None:
    parent = record("0190-parent", status="failed")
    number, earlier, root = parent.next_attempt()
    retry = item()
    retry.parent_id, retry.attempt, retry.attempts, retry.token_root = (
        parent.id,
        number,
        earlier,
        root,
    )
    await store.accept(retry)
    attempt = await store.start_attempt(retry.id)
    assert (attempt.number, attempt.earlier, attempt.token_root) == (2, earlier, "0190-parent")
    found = await store.get_execution(retry.id)
    assert found is not None
    assert (found.parent_id, found.attempt, found.token_root) == (parent.id, 2, "0190-parent")
    assert found.attempts == earlier


async def test_an_item_claimed_again_records_the_interrupted_attempt(stores: Stores) -> None:
    store = await stores.open()
    accepted = item()
    await store.accept(accepted)
    first = await store.start_attempt(accepted.id)
    assert (first.number, first.earlier) == (1, [])
    running = await store.get_execution(accepted.id)
    assert running is not None and running.status == "running"
    assert running.started_at is not None
    # The runtime dies; after a restart the item is still unfinished and is claimed again.
    reopened = await stores.restart(store)
    assert [u.id for u in await reopened.unfinished()] == [accepted.id]
    second = await reopened.start_attempt(accepted.id)
    assert second.number == 2
    assert [(a["attempt"], a["status"], a["started_at"]) for a in second.earlier] == [
        (1, "interrupted", running.started_at)
    ]
    done = record(accepted.id)
    done.attempt, done.attempts = 2, second.earlier
    await reopened.save_execution(done, finish_inbox=True)
    found = await reopened.get_execution(accepted.id)
    assert found is not None
    shown = found.as_dict()
    assert shown["attempt"] == 2
    assert [(a["attempt"], a["status"]) for a in shown["attempts"]] == [
        (1, "interrupted"),
        (2, "succeeded"),
    ]


async def test_the_inbox_is_shared_by_stores_on_one_location(stores: Stores) -> None:
    one, other = await stores.open(), await stores.open()
    accepted: InboxItem = item("k")
    await one.accept(accepted)
    assert [u.id for u in await other.unfinished()] == [accepted.id]
    duplicate = await other.accept(item("k"))
    assert (duplicate.execution_id, duplicate.duplicate) == (accepted.id, True)
