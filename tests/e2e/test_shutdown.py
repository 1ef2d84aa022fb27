"""Health endpoints and graceful shutdown of the real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from runtime.testing import FakeRequest, FakeServer, Latch
from tests.serverproc import ROOT, WharfServer

pytestmark = pytest.mark.e2e

SLOW = """
name: slow
trigger: {http: {auth: none, method: POST, path: /slow, input: json}}
steps:
  - http.request: {connection: upstream, path: "'/work'"}   # answered when the test says
  - map: {fields: {done: doc.n}}
"""


async def test_sigterm_finishes_in_flight_requests_then_exits_0(tmp_path: Path) -> None:
    arrived, release = Latch(), asyncio.Event()

    async def upstream(request: FakeRequest) -> object:
        arrived.arrive()
        await release.wait()
        return request.json()

    async with FakeServer(upstream) as fake:
        (tmp_path / "slow.yaml").write_text(textwrap.dedent(SLOW))
        (tmp_path / "connections.yaml").write_text(
            f"connections:\n  upstream: {{connector: http, base_url: '{fake.url}'}}\n"
        )
        try:
            await _sigterm_while_a_request_runs(tmp_path, arrived, release)
        finally:
            release.set()  # a failed test must not leave the fake server's handler waiting


async def _sigterm_while_a_request_runs(
    tmp_path: Path, arrived: Latch, release: asyncio.Event
) -> None:
    server = WharfServer(tmp_path, "--shutdown-timeout", "10s").start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/healthz") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with session.get(f"{server.url}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ready"
            in_flight = asyncio.create_task(session.post(f"{server.url}/slow", json={"n": 7}))
            await asyncio.wait_for(arrived.wait(), 30)  # the request is in its steps, held upstream
            assert server.proc is not None
            server.proc.terminate()  # SIGTERM
            await asyncio.to_thread(server.wait_for_log, "shutting down")
            release.set()
            response = await in_flight
            assert response.status == 200
            assert await response.json() == {"done": 7}
        exit_code = await asyncio.to_thread(server.proc.wait, 15)
        assert exit_code == 0
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session:
                await session.get(f"{server.url}/healthz")
    finally:
        server.kill()
    assert "shutting down" in server.log and "stopped" in server.log


def test_invalid_directory_never_starts(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\ntrigger:\n  http:\n    method: POST\n")
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", "run", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert f"{tmp_path / 'bad.yaml'}:3 trigger.http.path: Field required" in result.stderr
    assert "not starting" in result.stderr
    assert "WHARF_LISTENING" not in result.stdout
