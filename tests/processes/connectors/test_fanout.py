"""The order fan-out sample: one execution reaches an HTTP API, a database and an SFTP
drop, each a real server started here."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.loader import load_directory
from tests.processes.connectors.remote_files.test_remote_files import PASSWORD, sftp_server  # noqa: F401
from tests.serverproc import ROOT

SAMPLE = ROOT / "sample_processes" / "order_fanout"
TOKEN = "fulfilment-token-1234"


async def test_one_order_reaches_all_three(
    tmp_path: Path,
    sftp_server: tuple[int, Path, str],  # noqa: F811
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received: list[dict[str, Any]] = []

    async def orders(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        received.append(await request.json())
        return web.json_response({"fulfilment_id": "F-77"}, status=201)

    api = web.Application()
    api.router.add_post("/api/orders", orders)
    server = await aiohttp_server(api)
    sftp_port, sftp_root, fingerprint = sftp_server
    (sftp_root / "orders").mkdir()

    # The sample as shipped, with its connections pointed at the servers of this test.
    directory = tmp_path / "order_fanout"
    shutil.copytree(SAMPLE, directory)
    connections_yaml = (directory / "connections.yaml").read_text()
    connections_yaml = connections_yaml.replace(
        "http://127.0.0.1:9100/api", f"http://127.0.0.1:{server.port}/api"
    )
    connections_yaml = connections_yaml.replace(".wharf/orders.db", str(tmp_path / "orders.db"))
    connections_yaml = connections_yaml.replace("port: 2222", f"port: {sftp_port}")
    connections_yaml = connections_yaml.replace(
        "host_key: known_hosts", f'host_key: "{fingerprint}"'
    )
    (directory / "connections.yaml").write_text(connections_yaml)
    monkeypatch.setenv("FULFILMENT_TOKEN", TOKEN)
    monkeypatch.setenv("PARTNER_SFTP_PASSWORD", PASSWORD)

    processes, configs, problems = load_directory(directory)
    assert problems == []
    connections = Connections(configs)
    order = {
        "id": "SO-1001",
        "customer": "Globex",
        "lines": [{"sku": "BOLT-M8", "qty": 500}, {"sku": "NUT-M8", "qty": 250}],
    }
    try:
        result = await processes[0].execute([Document.json(order)], connections=connections)
    finally:
        await connections.close()
    assert result.execution.error is None, result.execution.error
    assert result.documents[0].body == {
        "order_id": "SO-1001",
        "fulfilment_id": "F-77",
        "csv": "orders/SO-1001.csv",  # relative to base_dir
    }
    assert received == [order]  # the API got the order as received
    with sqlite3.connect(tmp_path / "orders.db") as db:
        rows = db.execute("SELECT id, customer, total, fulfilment_id FROM orders").fetchall()
    assert rows == [("SO-1001", "Globex", 750, "F-77")]
    assert (sftp_root / "orders" / "SO-1001.csv").read_text() == (
        "order_id,sku,qty\nSO-1001,BOLT-M8,500\nSO-1001,NUT-M8,250\n"
    )
    assert TOKEN not in orjson.dumps(result.execution.summary()).decode()
