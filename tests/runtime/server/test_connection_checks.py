"""`wharf connections test` and `POST /api/connections/{name}/test`, for real."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from runtime.cli.main import main
from runtime.loading.loader import load_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings
from tests.helpers import ADMIN_KEY, admin_client

CONNECTIONS = """
connections:
  local:
    connector: sql
    description: A SQLite file.
    url: sqlite+aiosqlite:///{db}
  nowhere:
    connector: sql
    url: postgresql+asyncpg://wharf@127.0.0.1:9/nothing
  secretive:
    connector: sql
    url: postgresql+asyncpg://wharf:${{env:WHARF_TEST_MISSING_PASSWORD}}@127.0.0.1:5432/test
"""


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(CONNECTIONS.format(db=tmp_path / "local.db"))
    )
    (tmp_path / "p.yaml").write_text("name: p\ntrigger: {http: {auth: none, path: /p}}\n")
    # An empty file is an empty SQLite database; `connections test` never creates one.
    (tmp_path / "local.db").touch()
    return tmp_path


def test_cli_checks_every_connection(directory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connections", "test", str(directory)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["CONNECTION", "CONNECTOR", "RESULT", "MS"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["local"].split()[1:3] == ["sql", "ok"]
    assert "SELECT 1 ok" in rows["local"]
    assert rows["nowhere"].split()[2] == "FAILED"
    assert "environment variable WHARF_TEST_MISSING_PASSWORD is not set" in rows["secretive"]


def test_cli_one_connection(directory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connections", "test", str(directory), "local"]) == 0
    assert "sqlite: SELECT 1 ok" in capsys.readouterr().out
    assert main(["connections", "test", str(directory), "missing"]) == 1
    assert "no connection named 'missing'" in capsys.readouterr().err


async def test_api_lists_and_tests_connections(
    directory: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHARF_TEST_MISSING_PASSWORD", "s3cr3t-value-42")
    processes, configs, problems = load_directory(directory)
    assert problems == []
    client = await admin_client(
        aiohttp_client,
        create_app(
            processes, Settings(admin_key=ADMIN_KEY, store="sqlite://"), connections=configs
        ),
    )
    listing = await (await client.get("/api/connections")).json()
    assert listing["items"][0] == {
        "name": "local",
        "connector": "sql",
        "description": "A SQLite file.",
    }
    assert "s3cr3t" not in str(listing)
    ok = await (await client.post("/api/connections/local/test")).json()
    assert (ok["ok"], ok["detail"]) == (True, "sqlite: SELECT 1 ok")
    failed = await (await client.post("/api/connections/secretive/test")).json()
    assert failed["ok"] is False
    assert "s3cr3t-value-42" not in str(failed)
    assert (await client.post("/api/connections/none/test")).status == 404
