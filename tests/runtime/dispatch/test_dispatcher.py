"""The dispatcher's bounds: 503 with Retry-After instead of unbounded queueing."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from runtime.loading.loader import load_processes
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE
from runtime.testing import Gate
from tests.helpers import ADMIN_KEY, admin_client

Client = TestClient[Any, Any]

SLOW = """
name: slow-intake
trigger:
  http: {auth: none, method: POST, path: /intake, input: json, mode: async}
steps: []
"""
SYNC = """
name: sync
trigger:
  http: {auth: none, method: POST, path: /sync, input: json}
steps: []
"""


async def test_over_the_bound_listeners_answer_503(
    tmp_path: Path, aiohttp_client: Callable[..., Awaitable[Client]]
) -> None:
    (tmp_path / "slow.yaml").write_text(textwrap.dedent(SLOW))
    (tmp_path / "sync.yaml").write_text(textwrap.dedent(SYNC))
    settings = Settings(admin_key=ADMIN_KEY, store="sqlite://", workers=1, max_outstanding=2)
    processes = load_processes(tmp_path)
    gate = Gate().install(next(p for p in processes if p.name == "slow-intake"))
    app = create_app(processes, settings)
    client = await admin_client(aiohttp_client, app)

    first = await client.post("/intake", json={"n": 1})
    second = await client.post("/intake", json={"n": 2})
    assert (first.status, second.status) == (202, 202)
    for refused in (
        await client.post("/intake", json={"n": 3}),
        await client.post("/sync", json={}),
    ):
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.content_type == "application/problem+json"
        problem = await refused.json()
        assert problem["type"] == "urn:wharf:problem:overloaded"
        assert "limit 2" in problem["detail"]

    dispatcher = app[STATE].dispatcher
    assert dispatcher.outstanding == 2  # held at the gate (or queued behind it)
    gate.open()
    await dispatcher.idle()
    assert dispatcher.outstanding == 0
    again = await client.post("/intake", json={"n": 4})
    assert again.status == 202
    done = await client.post("/sync", json={"ok": True})
    assert done.status == 200
    assert await done.json() == {"ok": True}
