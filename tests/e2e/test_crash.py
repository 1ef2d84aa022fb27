"""Acknowledged means never lost: kill -9 mid-burst, restart, count the records."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from runtime.testing import FakeRequest, FakeServer, Latch
from tests.serverproc import ADMIN, WharfServer, wait_until_async

pytestmark = pytest.mark.e2e

REQUESTS = 2000
KILL_AFTER = 700  # 202s received before the kill

PROCESS = textwrap.dedent(
    """
    name: ingest
    trigger:
      http:
        auth: none
        method: POST
        path: /ingest
        input: json
        mode: async
    steps:
      - delay: {duration: 15ms}   # slower than accepting, so the inbox holds work at the kill
      - map:
          fields:
            n: doc.n
    """
)


async def _fire(url: str, keys: list[str], kill_after: int, server: WharfServer) -> dict[str, str]:
    """Send every request concurrently; kill the server after `kill_after` 202s."""
    acknowledged: dict[str, str] = {}
    killed = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=400)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(key: str) -> None:
            try:
                async with session.post(
                    f"{url}/ingest",
                    json={"n": key},
                    headers={"Idempotency-Key": key},
                ) as response:
                    body = await response.json()
                    if response.status == 202:
                        acknowledged[key] = body["execution_id"]
            except (TimeoutError, aiohttp.ClientError, ValueError):
                return  # no 202: not acknowledged
            if len(acknowledged) >= kill_after and not killed.is_set():
                killed.set()
                server.kill()

        await asyncio.gather(*(one(key) for key in keys))
    return acknowledged


async def _resend(url: str, keys: list[str]) -> dict[str, str]:
    results: dict[str, str] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def one(key: str) -> None:
            async with session.post(
                f"{url}/ingest", json={"n": key}, headers={"Idempotency-Key": key}
            ) as response:
                assert response.status == 202, await response.text()
                results[key] = (await response.json())["execution_id"]

        await asyncio.gather(*(one(key) for key in keys))
    return results


async def _wait_until_drained(url: str) -> None:
    async with aiohttp.ClientSession(headers=ADMIN) as session:

        async def drained() -> bool:
            for status in ("queued", "running"):
                params = {"status": status, "limit": "1"}
                async with session.get(f"{url}/api/executions", params=params) as response:
                    if (await response.json())["items"]:
                        return False
            return True

        await wait_until_async(drained, "no execution queued or running", within=60)


async def test_acknowledged_requests_survive_kill_9(tmp_path: Path) -> None:
    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "ingest.yaml").write_text(PROCESS)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    options = ("--store", store, "--log-level", "WARNING")
    keys = [f"key-{i:05d}" for i in range(REQUESTS)]

    first = WharfServer(processes, *options, cwd=tmp_path).start()
    try:
        acknowledged = await _fire(first.url, keys, KILL_AFTER, first)
    finally:
        first.kill()
    assert first.proc is not None and first.proc.returncode == -9
    assert len(acknowledged) >= KILL_AFTER

    with sqlite3.connect(tmp_path / "store.db") as db:
        unfinished = {row[0] for row in db.execute("SELECT id FROM inbox WHERE done = 0")}
    assert unfinished, "the kill should leave accepted work in the inbox"

    with WharfServer(processes, *options, cwd=tmp_path) as second:
        await _wait_until_drained(second.url)
        # Deliveries are retried by senders: every acknowledged key again, and every key
        # that never heard 202. Acknowledged ones must come back as the same execution.
        replayed = await _resend(second.url, keys)
        await _wait_until_drained(second.url)
    for key, execution_id in acknowledged.items():
        assert replayed[key] == execution_id

    with sqlite3.connect(tmp_path / "store.db") as db:
        rows = db.execute("SELECT id, idempotency_key, status FROM executions").fetchall()
        pending = db.execute("SELECT count(*) FROM inbox WHERE done = 0").fetchone()[0]
    by_key: dict[str, list[tuple[str, str]]] = {}
    for execution_id, key, status in rows:
        by_key.setdefault(key, []).append((execution_id, status))
    assert pending == 0
    assert set(by_key) == set(keys)
    for key in keys:
        assert len(by_key[key]) == 1, f"{key} ran {len(by_key[key])} times"
        execution_id, status = by_key[key][0]
        assert status == "succeeded"
        if key in acknowledged:
            assert execution_id == acknowledged[key]
    succeeded = {execution_id for group in by_key.values() for execution_id, _ in group}
    assert unfinished <= succeeded, "work left in the inbox by the kill was resumed"


SLOW_ASYNC = """
name: slow-ingest
trigger:
  http: {auth: none, method: POST, path: /slow, input: json, mode: async}
steps:
  - http.request: {connection: upstream, path: "'/work'"}   # answered when the test says
"""


async def test_sigterm_lets_running_work_finish(tmp_path: Path) -> None:
    arrived, release = Latch(), asyncio.Event()

    async def upstream(request: FakeRequest) -> object:
        arrived.arrive()
        await release.wait()
        return {}

    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "slow.yaml").write_text(SLOW_ASYNC)
    store = tmp_path / "store.db"
    async with FakeServer(upstream) as fake:
        (processes / "connections.yaml").write_text(
            f"connections:\n  upstream: {{connector: http, base_url: '{fake.url}'}}\n"
        )
        server = WharfServer(processes, "--store", f"sqlite:///{store}", cwd=tmp_path).start()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{server.url}/slow", json={}) as response:
                    assert response.status == 202
                    execution_id = (await response.json())["execution_id"]
                await asyncio.wait_for(arrived.wait(), 30)  # a worker runs it: held upstream
            assert server.proc is not None
            server.proc.terminate()  # SIGTERM while the execution runs
            await asyncio.to_thread(server.wait_for_log, "shutting down")
            release.set()
            assert await asyncio.to_thread(server.proc.wait, 30) == 0
        finally:
            release.set()
            server.kill()
    with sqlite3.connect(store) as db:
        status = db.execute(
            "SELECT status FROM executions WHERE id = ?", (execution_id,)
        ).fetchone()
        pending = db.execute("SELECT count(*) FROM inbox WHERE done = 0").fetchone()[0]
    assert status == ("succeeded",)
    assert pending == 0


ONCE = """
name: once
trigger:
  http: {auth: none, method: POST, path: /once, input: json, mode: async}
steps:
  - sql.upsert:     # keyed on the step's token: a second attempt updates, never adds
      connection: db
      table: effects
      key: [token]
      values: {token: step_token(), n: doc.n, attempt: attempt()}
  - http.request:   # the same Idempotency-Key in every attempt
      connection: upstream
      path: "'/hook'"
      idempotency_key: true
  - route:
      routes:
        - when: attempt() == 1
          steps:
            - delay: {duration: 120s}   # the first attempt is killed in here
"""


async def test_a_rerun_after_kill_9_is_a_visible_second_attempt(tmp_path: Path) -> None:
    hooks: list[str | None] = []
    hooked = Latch()

    async def hook(request: web.Request) -> web.Response:
        hooks.append(request.headers.get("Idempotency-Key"))
        hooked.arrive()
        return web.json_response({"ok": True})

    upstream_app = web.Application()
    upstream_app.router.add_post("/hook", hook)
    runner = web.AppRunner(upstream_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "once.yaml").write_text(ONCE)
    effects = tmp_path / "effects.db"
    (processes / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              db:
                connector: sql
                url: sqlite+aiosqlite:///{effects}
                init:
                  - CREATE TABLE IF NOT EXISTS effects (
                      token VARCHAR(200) PRIMARY KEY, n INTEGER, attempt INTEGER)
              upstream:
                connector: http
                base_url: http://127.0.0.1:{port}
            """
        )
    )
    options = ("--store", f"sqlite:///{tmp_path / 'store.db'}", "--log-level", "WARNING")
    try:
        first = WharfServer(processes, *options, cwd=tmp_path).start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{first.url}/once", json={"n": 7}) as response,
            ):
                assert response.status == 202
                execution_id = (await response.json())["execution_id"]
            await asyncio.wait_for(hooked.wait(1), 30)  # the first attempt's call upstream
        finally:
            first.kill()  # mid-attempt: after both effects, before its 120 s delay ends
        assert first.proc is not None and first.proc.returncode == -9

        with WharfServer(processes, *options, cwd=tmp_path) as second:
            async with aiohttp.ClientSession(headers=ADMIN) as session:

                async def finished() -> dict[str, Any] | None:
                    url = f"{second.url}/api/executions/{execution_id}"
                    async with session.get(url) as response:
                        record: dict[str, Any] = await response.json()
                    return record if record["status"] in ("succeeded", "failed") else None

                record = await wait_until_async(finished, "the second attempt")
    finally:
        await runner.cleanup()

    assert record["status"] == "succeeded"
    assert record["attempt"] == 2
    attempts = record["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [
        (1, "interrupted"),
        (2, "succeeded"),
    ]
    assert attempts[0]["started_at"] is not None
    assert attempts[1]["started_at"] >= attempts[0]["started_at"]
    # Each step's token is the same in both attempts: one row, one key upstream.
    with sqlite3.connect(effects) as db:
        rows = db.execute("SELECT token, n, attempt FROM effects").fetchall()
    assert rows == [(f"{execution_id}:steps[0].sql.upsert", 7, 2)]
    assert hooks == [f"{execution_id}:steps[1].http.request"] * 2
