"""Real FTP and SFTP servers for tests: pyftpdlib in a thread, asyncssh on the test's loop.

Each fixture serves a fresh directory under `tmp_path` (the server's root) to the user
`wharf` with `PASSWORD`, so a test checks what the server holds by reading that directory.
Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

PASSWORD = "remote-pass-4321"


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, root directory)."""
    root = tmp_path / "ftp-root"
    root.mkdir()
    authorizer = DummyAuthorizer()
    authorizer.add_user("wharf", PASSWORD, str(root), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "passive_ports": None})
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    yield port, root
    server.close_all()
    thread.join(5)


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "wharf" and password == PASSWORD


@pytest.fixture
async def sftp_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path, str]]:
    """(port, root directory, host key fingerprint `SHA256:...`)."""
    root = tmp_path / "sftp-root"
    root.mkdir()
    key = asyncssh.generate_private_key("ssh-ed25519")

    def sftp_factory(channel: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(channel, chroot=str(root).encode())

    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[key], server_factory=_Server, sftp_factory=sftp_factory
    )
    port = server.sockets[0].getsockname()[1]
    fingerprint = key.get_fingerprint("sha256")
    yield port, root, fingerprint
    server.close()
    await server.wait_closed()
