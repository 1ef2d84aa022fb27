"""What `ftp` and `sftp` share (processes/connectors/remote_files/), over both, against
real servers started here: pyftpdlib, and asyncssh's SSH server."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from processes.connectors.ftp import FtpSession
from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.loader import load_directory
from tests import remote_servers
from tests.remote_servers import PASSWORD

# The servers' fixtures, shared with other tests (test_fanout imports them from here).
ftp_server = remote_servers.ftp_server
sftp_server = remote_servers.sftp_server


def build(directory: Path, connection: str, steps: str) -> tuple[Any, Connections]:
    directory.mkdir(exist_ok=True)
    (directory / "connections.yaml").write_text(
        "connections:\n  remote:\n" + textwrap.indent(textwrap.dedent(connection), "    ")
    )
    (directory / "p.yaml").write_text(
        "name: p\ntrigger: {http: {auth: none, path: /p}}\nsteps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
    )
    processes, configs, problems = load_directory(directory)
    assert problems == [], problems
    return processes[0], Connections(configs)


ROUND_TRIP = """
- {kind}.put: {{connection: remote, path: "'in/' ~ props.id ~ '.csv'"}}
- {kind}.list: {{connection: remote, directory: in, pattern: "*.csv"}}
- {kind}.get: {{connection: remote, path: doc.path}}
"""


async def round_trip(process: Any, connections: Connections, root: Path) -> None:
    (root / "in").mkdir()
    result = await process.execute(
        [Document.text("id,qty\nA,2\n", "text/csv", {"id": "order-1"})], connections=connections
    )
    assert result.execution.error is None, result.execution.error
    (document,) = result.documents
    assert document.body == b"id,qty\nA,2\n"
    assert document.properties["remote_path"].endswith("in/order-1.csv")
    assert sorted(p.name for p in (root / "in").iterdir()) == ["order-1.csv"]  # no .part left
    await connections.close()


async def test_ftp_round_trip(
    ftp_server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, root = ftp_server
    monkeypatch.setenv("WHARF_T_FTP", PASSWORD)
    connection = f"""
        connector: ftp
        host: 127.0.0.1
        port: {port}
        username: wharf
        password: "${{env:WHARF_T_FTP}}"
    """
    process, connections = build(tmp_path / "ftp", connection, ROUND_TRIP.format(kind="ftp"))
    await round_trip(process, connections, root)


async def test_ftp_interrupted_upload_leaves_no_file_at_the_final_name(
    ftp_server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, root = ftp_server
    monkeypatch.setenv("WHARF_T_FTP", PASSWORD)

    def drop(self: FtpSession, source: str, target: str) -> None:
        raise ConnectionResetError("connection lost")  # after the data, before the rename

    monkeypatch.setattr(FtpSession, "rename", drop)
    connection = f"""
        connector: ftp
        host: 127.0.0.1
        port: {port}
        username: wharf
        password: "${{env:WHARF_T_FTP}}"
    """
    process, connections = build(
        tmp_path / "ftp", connection, "- ftp.put: {connection: remote, path: \"'drop.csv'\"}"
    )
    result = await process.execute([Document.text("a,b\n", "text/csv")], connections=connections)
    assert result.execution.error is not None
    assert "connection lost" in result.execution.error.detail
    assert not (root / "drop.csv").exists()
    assert (root / ".drop.csv.wharf-part").exists()
    await connections.close()


async def test_sftp_round_trip_with_pinned_host_key(
    sftp_server: tuple[int, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, root, fingerprint = sftp_server
    monkeypatch.setenv("WHARF_T_SFTP", PASSWORD)
    connection = f"""
        connector: sftp
        host: 127.0.0.1
        port: {port}
        username: wharf
        password: "${{env:WHARF_T_SFTP}}"
        host_key: "{fingerprint}"
    """
    process, connections = build(tmp_path / "sftp", connection, ROUND_TRIP.format(kind="sftp"))
    await round_trip(process, connections, root)


async def test_connection_checks_log_in_and_list(
    ftp_server: tuple[int, Path],
    sftp_server: tuple[int, Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ftp_port, _ = ftp_server
    sftp_port, _, fingerprint = sftp_server
    monkeypatch.setenv("WHARF_T_PASS", PASSWORD)
    (tmp_path / "connections.yaml").write_text(
        textwrap.dedent(
            f"""
            connections:
              ftp:
                connector: ftp
                host: 127.0.0.1
                port: {ftp_port}
                username: wharf
                password: "${{env:WHARF_T_PASS}}"
              sftp:
                connector: sftp
                host: 127.0.0.1
                port: {sftp_port}
                username: wharf
                password: "${{env:WHARF_T_PASS}}"
                host_key: "{fingerprint}"
            """
        )
    )
    from runtime.loading.connections import load_connections
    from runtime.server.connection_checks import check_connection

    configs, problems = load_connections(tmp_path)
    assert problems == []
    connections = Connections(configs)
    results = [await check_connection(connections, name) for name in ("ftp", "sftp")]
    await connections.close()
    assert [(r.name, r.ok) for r in results] == [("ftp", True), ("sftp", True)]
    assert all(r.detail.startswith("logged in") for r in results)
