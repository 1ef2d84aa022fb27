"""FTP and SFTP paths stay under the connection's base_dir, against the real servers: a file
beside base_dir is neither read, written, renamed, listed nor deleted, and the error says
why. The file poller keeps its directories under base_dir too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.core.connections import Connections
from runtime.core.document import Document
from runtime.loading.loader import load_directory
from tests import remote_servers
from tests.processes.connectors.remote_files.test_remote_files import build
from tests.remote_servers import PASSWORD

ftp_server = remote_servers.ftp_server
sftp_server = remote_servers.sftp_server

ESCAPES = [
    "../private.txt",
    "/private.txt",
    "sub/../../private.txt",
    "./../private.txt",
    "..\\private.txt",
    "~/private.txt",
    "x\x00y",
    "a.txt\r\nDELE /private.txt",
]


@pytest.fixture(params=["ftp", "sftp"])
def remote(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """(connection YAML with base_dir /outbox, the server's root)."""
    monkeypatch.setenv("WHARF_T_REMOTE", PASSWORD)
    if request.param == "ftp":
        port, root = request.getfixturevalue("ftp_server")
        extra = ""
    else:
        port, root, fingerprint = request.getfixturevalue("sftp_server")
        extra = f'host_key: "{fingerprint}"\n'
    (root / "outbox").mkdir()
    (root / "outbox" / "doc.txt").write_text("inside")
    (root / "private.txt").write_text("outside")
    connection = (
        f"connector: {request.param}\nhost: 127.0.0.1\nport: {port}\nusername: wharf\n"
        'password: "${env:WHARF_T_REMOTE}"\nbase_dir: /outbox\n' + extra
    )
    return connection, root


def kind_of(connection: str) -> str:
    return connection.split("\n", 1)[0].removeprefix("connector: ")


async def run(
    tmp_path: Path, connection: str, step: str, documents: list[Document]
) -> tuple[Any, Connections]:
    process, connections = build(tmp_path / "p", connection, step)
    result = await process.execute(documents, connections=connections)
    await connections.close()
    return result, connections


async def test_get_outside_base_dir_is_refused(remote: tuple[str, Path], tmp_path: Path) -> None:
    connection, _ = remote
    kind = kind_of(connection)
    step = f"- {kind}.get: {{connection: remote, path: doc.name}}"
    for name in ESCAPES:
        result, _ = await run(tmp_path, connection, step, [Document.json({"name": name})])
        error = result.execution.error
        assert error is not None, name
        assert error.problem == "path-refused", (name, error.detail)
        assert error.status == 400
        assert result.documents == [] or all(d.body != b"outside" for d in result.documents)
    # Inside base_dir still works, `..` that stays inside included.
    ok, _ = await run(tmp_path, connection, step, [Document.json({"name": "sub/../doc.txt"})])
    assert ok.execution.error is None, ok.execution.error
    (document,) = ok.documents
    assert document.body == b"inside"
    assert document.properties["remote_path"] == "doc.txt"  # relative to base_dir


async def test_put_rename_delete_list_outside_base_dir_are_refused(
    remote: tuple[str, Path], tmp_path: Path
) -> None:
    connection, root = remote
    kind = kind_of(connection)
    put = f"- {kind}.put: {{connection: remote, path: doc.name}}"
    for name in ("../pwned.txt", "/pwned.txt", "in/../../pwned.txt"):
        result, _ = await run(tmp_path, connection, put, [Document.json({"name": name})])
        assert result.execution.error is not None, name
        assert result.execution.error.problem == "path-refused"
    assert not (root / "pwned.txt").exists()
    assert sorted(p.name for p in root.iterdir()) == ["outbox", "private.txt"]

    rename = f"- {kind}.rename: {{connection: remote, from: \"'doc.txt'\", to: doc.name}}"
    result, _ = await run(tmp_path, connection, rename, [Document.json({"name": "../moved.txt"})])
    assert result.execution.error is not None and result.execution.error.problem == "path-refused"
    assert (root / "outbox" / "doc.txt").exists() and not (root / "moved.txt").exists()

    delete = f"- {kind}.delete: {{connection: remote, path: doc.name}}"
    result, _ = await run(tmp_path, connection, delete, [Document.json({"name": "../private.txt"})])
    assert result.execution.error is not None and result.execution.error.problem == "path-refused"
    assert (root / "private.txt").read_text() == "outside"

    listing = f"- {kind}.list: {{connection: remote, directory: '..'}}"
    result, _ = await run(tmp_path, connection, listing, [Document.empty()])
    assert result.execution.error is not None and result.execution.error.problem == "path-refused"


async def test_list_paths_are_relative_to_base_dir_and_feed_get(
    remote: tuple[str, Path], tmp_path: Path
) -> None:
    connection, _ = remote
    kind = kind_of(connection)
    steps = f"""
    - {kind}.list: {{connection: remote, pattern: "*.txt"}}
    - {kind}.get: {{connection: remote, path: doc.path}}
    """
    result, _ = await run(tmp_path, connection, steps, [Document.empty()])
    assert result.execution.error is None, result.execution.error
    assert [d.body for d in result.documents] == [b"inside"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("directory", "../elsewhere"),
        ("directory", "/elsewhere"),
        ("done_directory", "../../done"),
        ("done_directory", "/done"),
        ("error_directory", "../../error"),
    ],
)
def test_poller_directories_must_stay_under_base_dir(
    tmp_path: Path, option: str, value: str
) -> None:
    connection = {
        "connector": "sftp",
        "host": "127.0.0.1",
        "username": "wharf",
        "password": "${env:X}",
        "base_dir": "/outbox",
    }
    (tmp_path / "connections.yaml").write_text(json.dumps({"connections": {"r": connection}}))
    trigger = {"connection": "r", "every": "1h", "directory": "in", option: value}
    process = {"name": "inbox", "trigger": {"sftp.poll": trigger}, "steps": []}
    (tmp_path / "inbox.yaml").write_text(json.dumps(process))
    _, _, problems = load_directory(tmp_path)
    assert problems, (option, value)
    assert any("connection's directory" in str(problem) for problem in problems), problems
