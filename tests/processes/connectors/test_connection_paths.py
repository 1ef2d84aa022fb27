"""Connection settings taken at their word: a password stays a password whatever characters
it holds, relative paths in connections.yaml are relative to its directory, and
`wharf connections test` changes nothing on disk."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from processes.connectors.file import UMASK
from processes.connectors.sql import resolved_url
from runtime.cli.main import main
from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.connections import load_connections
from runtime.loading.loader import load_directory
from runtime.server.connection_checks import check_connection
from tests.processes.connectors.sql.test_sql import reachable

RESERVED = "p@ss/w#rd:x?y%z"  # every URL delimiter a password may hold


def test_a_password_with_url_delimiters_stays_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHARF_T_DB_PW", RESERVED)
    url = resolved_url("postgresql+asyncpg://app:${env:WHARF_T_DB_PW}@db.internal:6432/crm?ssl=x")
    assert (url.username, url.password, url.host, url.port) == (
        "app",
        RESERVED,
        "db.internal",
        6432,
    )
    assert (url.database, dict(url.query)) == ("crm", {"ssl": "x"})


async def test_postgres_connects_with_a_reserved_character_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine's PostgreSQL trusts local connections, so any password logs in, if the
    host and database survive the password being in the URL."""
    problem = await reachable("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    if problem is not None:
        if os.environ.get("WHARF_REQUIRE_SERVICES") == "1":
            pytest.fail(f"postgresql is required but unreachable: {problem}")
        pytest.skip(f"postgresql not reachable: {problem}")
    monkeypatch.setenv("WHARF_T_DB_PW", RESERVED)
    url = "postgresql+asyncpg://postgres:${env:WHARF_T_DB_PW}@127.0.0.1:5432/test"
    (tmp_path / "connections.yaml").write_text(
        json.dumps({"connections": {"db": {"connector": "sql", "url": url}}})
    )
    configs, problems = load_connections(tmp_path)
    assert problems == []
    connections = Connections(configs)
    result = await check_connection(connections, "db")
    await connections.close()
    assert (result.ok, result.detail) == (True, "postgresql: SELECT 1 ok")


def definitions(directory: Path) -> Path:
    """connections.yaml with a relative file base_dir and a relative SQLite file."""
    directory.mkdir(parents=True)
    connections = {
        "box": {"connector": "file", "base_dir": "box"},
        "db": {"connector": "sql", "url": "sqlite+aiosqlite:///data/app.db"},
    }
    (directory / "connections.yaml").write_text(json.dumps({"connections": connections}))
    return directory


async def test_relative_paths_are_relative_to_the_connections_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = definitions(tmp_path / "defs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    configs, problems = load_connections(Path("../defs"))
    assert problems == []
    connections = Connections(configs)
    results = [await check_connection(connections, name) for name in ("box", "db")]
    await connections.close()
    assert all(result.ok for result in results), results
    assert (directory / "box").is_dir() and (directory / "data" / "app.db").is_file()
    assert list(elsewhere.iterdir()) == []


def test_connections_test_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = definitions(tmp_path / "defs")
    assert main(["connections", "test", str(directory)]) == 0
    output = capsys.readouterr().out
    assert "created on first use" in output
    assert sorted(p.name for p in directory.iterdir()) == ["connections.yaml"]


async def test_file_write_permissions(tmp_path: Path) -> None:
    base = tmp_path / "defs"
    base.mkdir()
    (base / "connections.yaml").write_text(
        "connections:\n  box:\n    connector: file\n    base_dir: box\n"
    )
    (base / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        "  - file.write: {connection: box, path: \"'plain.txt'\"}\n"
        '  - file.write: {connection: box, path: "\'private.txt\'", mode: "0640"}\n'
        "  - file.write: {connection: box, path: \"'log.txt'\", write: append, "
        'mode: "0600"}\n'
        "  - file.write: {connection: box, path: \"'octal.txt'\", mode: 0604}\n"
        "  - file.write: {connection: box, path: \"'old.txt'\", mode: create}\n"
    )
    processes, configs, problems = load_directory(base)
    assert problems == [], problems
    connections = Connections(configs)
    result = await processes[0].execute([Document.text("x", "text/plain")], connections=connections)
    await connections.close()
    assert result.execution.error is None, result.execution.error

    def mode(name: str) -> int:
        return stat.S_IMODE((base / "box" / name).stat().st_mode)

    assert mode("plain.txt") == 0o644 & ~UMASK
    assert mode("private.txt") == 0o640 & ~UMASK
    assert mode("log.txt") == 0o600 & ~UMASK
    assert mode("octal.txt") == 0o604 & ~UMASK
    assert mode("old.txt") == 0o644 & ~UMASK

    (base / "bad.yaml").write_text(
        "name: bad\ntrigger: {http: {auth: none, path: /bad}}\nsteps:\n"
        "  - file.write: {connection: box, path: \"'x'\", mode: '999'}\n"
    )
    _, _, problems = load_directory(base)
    assert any("mode" in str(problem) for problem in problems), problems
