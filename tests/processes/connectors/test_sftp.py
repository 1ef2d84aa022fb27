"""The `sftp` connector's own part, against asyncssh's SSH server started here: the
server's host key is checked (the shared actions are in remote_files/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.core.document import Document
from tests import remote_servers
from tests.processes.connectors.remote_files.test_remote_files import build
from tests.remote_servers import PASSWORD

sftp_server = remote_servers.sftp_server


async def test_sftp_unknown_host_key_is_refused(
    sftp_server: tuple[int, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, root, _ = sftp_server
    monkeypatch.setenv("WHARF_T_SFTP", PASSWORD)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    for host_key in ("known_hosts", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
        connection = f"""
            connector: sftp
            host: 127.0.0.1
            port: {port}
            username: wharf
            password: "${{env:WHARF_T_SFTP}}"
            host_key: "{host_key}"
            known_hosts: {known_hosts}
        """
        process, connections = build(
            tmp_path / host_key[:6],
            connection,
            "- sftp.put: {connection: remote, path: \"'x.csv'\"}",
        )
        result = await process.execute([Document.text("x", "text/csv")], connections=connections)
        error = result.execution.error
        assert error is not None, host_key
        assert "refused" in error.detail, error.detail
        assert PASSWORD not in error.detail
        assert not (root / "x.csv").exists()
        await connections.close()
