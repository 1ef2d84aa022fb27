"""The partner-orders sample end to end: the real `wharf` server polls a real SFTP server
(asyncssh, on this test's loop), loads the good CSV into SQLite and refuses the bad one."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import remote_servers
from tests.remote_servers import PASSWORD
from tests.serverproc import ADMIN, ROOT, WharfServer

pytestmark = pytest.mark.e2e

sftp_server = remote_servers.sftp_server

SAMPLE = ROOT / "sample_processes" / "partner_orders"
GOOD = (SAMPLE / "fixtures" / "orders-1001.csv").read_bytes()
BAD = b"order_id,sku,quantity,unit_price\nPO-1002,BOLT-M8,lots,0.12\n"


def drop(path: Path, data: bytes) -> None:
    """A file the partner finished writing a minute ago."""
    path.write_bytes(data)
    then = time.time() - 60
    os.utime(path, (then, then))


async def call(session: aiohttp.ClientSession, method: str, url: str) -> Any:
    async with session.request(method, url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_partner_orders_sample_loads_good_files_and_refuses_bad_ones(
    tmp_path: Path,
    sftp_server: tuple[int, Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, root, fingerprint = sftp_server
    # The sample as shipped, with its SFTP connection pointed at this test's server.
    directory = tmp_path / "partner_orders"
    shutil.copytree(SAMPLE, directory)
    connections = (directory / "connections.yaml").read_text()
    connections = connections.replace("port: 2222", f"port: {port}")
    connections = connections.replace("host_key: known_hosts", f'host_key: "{fingerprint}"')
    (directory / "connections.yaml").write_text(connections)
    monkeypatch.setenv("PARTNER_SFTP_PASSWORD", PASSWORD)

    server = WharfServer(directory, "--store", f"sqlite:///{tmp_path}/wharf.db", cwd=tmp_path)
    await asyncio.to_thread(server.start)  # the SFTP server keeps serving meanwhile
    try:
        schedule = f"{server.url}/api/schedules/partner-orders"
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            # Paused, so a timed fire at the turn of a minute cannot take the files first.
            await call(http, "POST", f"{schedule}/pause")
            (root / "outbox").mkdir()
            drop(root / "outbox" / "orders-1001.csv", GOOD)
            drop(root / "outbox" / "orders-1002.csv", BAD)

            fire = await call(http, "POST", f"{schedule}/run?wait=20000")
            assert (fire["status"], fire["executions"]) == ("failed", 2)
            assert fire["error"] == {
                "type": "ValidationFailed",
                "message": "steps[1].validate: $[0].quantity: 'lots' does not match '^[0-9]+$'",
                "step": "steps[1].validate",
            }

            executions = await call(
                http, "GET", f"{server.url}/api/executions?process=partner-orders"
            )
            statuses = sorted((e["trigger"], e["status"]) for e in executions["items"])
            assert statuses == [("poll", "failed"), ("poll", "succeeded")]

            again = await call(http, "POST", f"{schedule}/run?wait=20000")
            assert (again["status"], again["executions"]) == ("idle", 0)
    finally:
        await asyncio.to_thread(server.stop)

    # Relative SQLite paths are beside connections.yaml.
    with sqlite3.connect(directory / ".wharf" / "partner_orders.db") as db:
        rows = db.execute(
            "SELECT order_id, sku, quantity, unit_price, source_file FROM partner_order_lines "
            "ORDER BY sku"
        ).fetchall()
    assert rows == [
        ("PO-1001", "BOLT-M8", 500, 0.12, "orders-1001.csv"),
        ("PO-1001", "NUT-M8", 500, 0.05, "orders-1001.csv"),
    ]
    assert sorted(p.name for p in (root / "outbox" / "done").iterdir()) == ["orders-1001.csv"]
    assert sorted(p.name for p in (root / "outbox" / "error").iterdir()) == ["orders-1002.csv"]
    assert (root / "outbox" / "error" / "orders-1002.csv").read_bytes() == BAD
    assert sorted(p.name for p in (root / "outbox").iterdir()) == ["done", "error"]
