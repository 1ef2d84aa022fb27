"""`ftp.poll` / `sftp.poll` against real servers (pyftpdlib, asyncssh), fired by hand through
the scheduler of a real app on a SQLite store file."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from processes.connectors.ftp import FtpSession
from processes.connectors.remote_files import RemoteEntry
from processes.connectors.sftp import SftpSession
from runtime.loading.loader import load_directory
from runtime.server.app import create_app
from runtime.server.settings import Settings
from runtime.server.state import STATE, RuntimeState
from runtime.store import FireRecord
from tests import remote_servers
from tests.helpers import ADMIN_KEY, admin_client
from tests.remote_servers import PASSWORD

ftp_server = remote_servers.ftp_server
sftp_server = remote_servers.sftp_server

Client = TestClient[Any, Any]
ClientFactory = Callable[..., Awaitable[Client]]

_slots = itertools.count()


@dataclass
class Remote:
    kind: str  # ftp | sftp
    root: Path  # what the server serves
    connection: dict[str, Any]


@pytest.fixture(params=["ftp", "sftp"])
def remote(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Remote:
    monkeypatch.setenv("WHARF_T_REMOTE", PASSWORD)
    connection: dict[str, Any] = {
        "connector": request.param,
        "host": "127.0.0.1",
        "username": "wharf",
        "password": "${env:WHARF_T_REMOTE}",
    }
    if request.param == "ftp":
        port, root = request.getfixturevalue("ftp_server")
    else:
        port, root, fingerprint = request.getfixturevalue("sftp_server")
        connection["host_key"] = fingerprint
    (root / "in").mkdir()
    return Remote(request.param, root, {**connection, "port": port})


def write_process(directory: Path, remote: Remote, fail: bool = True, **options: Any) -> Path:
    """`inbox`: polls `in/*.csv`; a file whose name has `bad` in it fails its execution."""
    directory.mkdir(exist_ok=True)
    connections = {"connections": {"remote": remote.connection}}
    (directory / "connections.yaml").write_text(json.dumps(connections))
    trigger = {
        "connection": "remote",
        "every": "1h",
        "start": "2100-01-01T00:00:00",  # no timed fires: the test fires by hand
        "directory": "in",
        "pattern": "*.csv",
        **options,
    }
    process: dict[str, Any] = {
        "name": "inbox",
        "record": "full",
        "trigger": {f"{remote.kind}.poll": trigger},
        "steps": [],
    }
    if fail:
        refuse = {
            "fail": {"status": 422, "title": "Rejected", "detail": "'refused ' ~ props.file_name"}
        }
        process["steps"] = [
            {"route": {"routes": [{"when": "'bad' in props.file_name", "steps": [refuse]}]}}
        ]
    (directory / "inbox.yaml").write_text(json.dumps(process))
    return directory


async def start(
    aiohttp_client: ClientFactory, directory: Path, store: Path
) -> tuple[Client, RuntimeState]:
    processes, configs, problems = load_directory(directory)
    assert problems == []
    app = create_app(
        processes, Settings(admin_key=ADMIN_KEY, store=f"sqlite:///{store}"), connections=configs
    )
    client = await admin_client(aiohttp_client, app)
    return client, app[STATE]


async def fire(state: RuntimeState) -> FireRecord:
    slot = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_slots))
    record = await state.scheduler.fire(state.scheduler.entries["inbox"], slot, "schedule")
    assert record is not None
    return record


def drop(root: Path, name: str, data: bytes, age: float = 60.0) -> Path:
    """A file on the server, last modified `age` seconds ago."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "w.db"


async def test_a_new_file_runs_once_and_is_moved_to_done(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    order = b"order_id,sku\nA-1,BOLT\n"
    drop(remote.root, "in/a.csv", order)
    drop(remote.root, "in/.a.csv.part", b"half")  # hidden: an upload in progress
    drop(remote.root, "in/notes.txt", b"not a csv")
    _, state = await start(aiohttp_client, write_process(tmp_path / "p", remote), store)

    record = await fire(state)
    assert (record.status, record.executions, record.error) == ("succeeded", 1, None)
    assert names(remote.root / "in") == [".a.csv.part", "done", "notes.txt"]
    assert (remote.root / "in" / "done" / "a.csv").read_bytes() == order

    assert record.execution_id is not None
    execution = await state.store.get_execution(record.execution_id)
    assert execution is not None and execution.trigger == "poll" and execution.input
    (document,) = execution.input
    assert base64.b64decode(document["body"]) == order
    assert document["media_type"] == "text/csv"
    properties = document["properties"]
    assert properties["file_name"] == "a.csv"
    assert properties["file_path"] == "in/a.csv"  # relative to base_dir, as steps take it
    assert properties["file_directory"] == "in"
    assert properties["file_size"] == len(order)
    mtime = datetime.fromisoformat(properties["file_mtime"])
    assert abs(mtime.timestamp() - (time.time() - 60)) < 5

    again = await fire(state)
    assert (again.status, again.executions) == ("idle", 0)

    # The same name again is a new file; done/a.csv is not overwritten.
    drop(remote.root, "in/a.csv", b"order_id,sku\nA-2,NUT\n")
    assert (await fire(state)).status == "succeeded"
    done = names(remote.root / "in" / "done")
    assert len(done) == 2 and "a.csv" in done, done
    (stamped,) = [n for n in done if n != "a.csv"]
    assert stamped.startswith("a.") and stamped.endswith("Z.csv")
    assert (remote.root / "in" / "done" / "a.csv").read_bytes() == order
    assert (remote.root / "in" / "done" / stamped).read_bytes() == b"order_id,sku\nA-2,NUT\n"


async def test_a_growing_file_waits_until_it_stopped_growing(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    _, state = await start(
        aiohttp_client, write_process(tmp_path / "p", remote, min_age="1s"), store
    )
    path = remote.root / "in" / "big.csv"
    chunks = [f"line-{n}\n".encode() for n in range(12)]
    # A writer appends a chunk between fires: each fire sees a file modified just now.
    fires_while_growing = 0
    for chunk in chunks:
        with path.open("ab") as handle:
            handle.write(chunk)
        record = await fire(state)
        assert record.status == "idle", record
        fires_while_growing += 1
    assert fires_while_growing >= 3

    # The writer stopped 3 s ago (min_age 1 s, plus a second for whole-second mtimes).
    stopped = time.time() - 3
    os.utime(path, (stopped, stopped))
    record = await fire(state)
    assert (record.status, record.executions) == ("succeeded", 1)
    assert (remote.root / "in" / "done" / "big.csv").read_bytes() == b"".join(chunks)
    assert (await fire(state)).status == "idle"


async def test_a_file_that_changes_after_listing_waits_for_the_next_fire(
    remote: Remote,
    tmp_path: Path,
    store: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = drop(remote.root, "in/late.csv", b"a,b\n")
    session_class = FtpSession if remote.kind == "ftp" else SftpSession
    real_stat = session_class.stat
    appended = threading.Event()

    def stat_after_a_write(self: Any, target: str) -> RemoteEntry | None:
        if not appended.is_set():  # the partner writes between our listing and the download
            with path.open("ab") as handle:
                handle.write(b"c,d\n")
            appended.set()
        return real_stat(self, target)

    monkeypatch.setattr(session_class, "stat", stat_after_a_write)
    _, state = await start(aiohttp_client, write_process(tmp_path / "p", remote, min_age=0), store)
    assert (await fire(state)).status == "idle"
    assert names(remote.root / "in") == ["late.csv"]
    record = await fire(state)
    assert (record.status, record.executions) == ("succeeded", 1)
    assert (remote.root / "in" / "done" / "late.csv").read_bytes() == b"a,b\nc,d\n"


async def test_keep_leaves_the_file_and_a_restart_does_not_run_it_again(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    drop(remote.root, "in/kept.csv", b"x\n")
    directory = write_process(tmp_path / "p", remote, on_success="keep")
    client, state = await start(aiohttp_client, directory, store)
    assert (await fire(state)).status == "succeeded"
    assert (await fire(state)).status == "idle"
    await client.close()

    _, state = await start(aiohttp_client, directory, store)
    record = await fire(state)
    assert (record.status, record.executions) == ("idle", 0)
    assert names(remote.root / "in") == ["kept.csv"]
    fires = await state.store.list_fires("inbox")
    assert [f.status for f in fires] == ["idle", "idle", "succeeded"]


async def test_a_failed_execution_moves_the_file_to_error_and_fails_the_fire(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    drop(remote.root, "in/bad.csv", b"nonsense\n", age=120)
    drop(remote.root, "in/good.csv", b"fine\n", age=60)
    _, state = await start(aiohttp_client, write_process(tmp_path / "p", remote), store)
    record = await fire(state)
    assert (record.status, record.executions) == ("failed", 2)

    (stored,) = await state.store.list_fires("inbox")
    assert stored.status == "failed"
    assert stored.error == {
        "type": "ProcessFailure",
        "message": "steps[0].route.routes[0].steps[0].fail: refused bad.csv",
        "step": "steps[0].route.routes[0].steps[0].fail",
    }
    assert names(remote.root / "in" / "error") == ["bad.csv"]
    assert names(remote.root / "in" / "done") == ["good.csv"]
    assert (await fire(state)).status == "idle"


async def test_retry_leaves_the_file_and_runs_it_again_until_it_succeeds(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    drop(remote.root, "in/bad.csv", b"x\n")
    directory = write_process(tmp_path / "p", remote, on_error="retry")
    client, state = await start(aiohttp_client, directory, store)
    for _ in range(2):
        record = await fire(state)
        assert (record.status, record.executions) == ("failed", 1)
        assert names(remote.root / "in") == ["bad.csv"]
    await client.close()

    # The process is fixed and restarted: the file runs again, once, and is moved.
    write_process(directory, remote, fail=False, on_error="retry")
    _, state = await start(aiohttp_client, directory, store)
    record = await fire(state)
    assert (record.status, record.executions) == ("succeeded", 1)
    assert names(remote.root / "in" / "done") == ["bad.csv"]
    drop(remote.root, "in/other.csv", b"y\n", age=60)
    record = await fire(state)
    assert (record.status, record.executions) == ("succeeded", 1)  # other.csv only


async def test_a_download_error_fails_the_fire_and_moves_the_file_to_error(
    remote: Remote,
    tmp_path: Path,
    store: Path,
    aiohttp_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drop(remote.root, "in/broken.csv", b"x\n", age=120)
    drop(remote.root, "in/fine.csv", b"y\n", age=60)
    session_class = FtpSession if remote.kind == "ftp" else SftpSession
    real_get = session_class.get

    def get(self: Any, path: str) -> bytes:
        if path.endswith("broken.csv"):
            raise ConnectionResetError("transfer dropped")
        return bytes(real_get(self, path))

    monkeypatch.setattr(session_class, "get", get)
    _, state = await start(aiohttp_client, write_process(tmp_path / "p", remote), store)
    record = await fire(state)
    assert (record.status, record.executions) == ("failed", 1)
    assert record.error == {
        "type": "RemoteFileError",
        "message": "downloading /in/broken.csv failed: ConnectionResetError: transfer dropped",
    }
    assert names(remote.root / "in" / "error") == ["broken.csv"]
    assert names(remote.root / "in" / "done") == ["fine.csv"]


async def test_two_runtimes_on_one_store_run_a_file_once(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    for n in range(6):
        drop(remote.root, f"in/{n}.csv", f"{n}\n".encode())
    directory = write_process(tmp_path / "p", remote, overlap="allow")
    _, first = await start(aiohttp_client, directory, store)
    _, second = await start(aiohttp_client, directory, store)
    records = await asyncio.gather(fire(first), fire(second))
    assert sum(r.executions for r in records) == 6
    assert names(remote.root / "in" / "done") == [f"{n}.csv" for n in range(6)]
    assert names(remote.root / "in") == ["done"]


async def test_recursive_polls_subdirectories_and_keeps_their_layout(
    remote: Remote, tmp_path: Path, store: Path, aiohttp_client: ClientFactory
) -> None:
    drop(remote.root, "in/top.csv", b"1\n")
    drop(remote.root, "in/eu/de/deep.csv", b"2\n")
    drop(remote.root, "in/eu/bad.csv", b"3\n")
    directory = write_process(tmp_path / "p", remote, recursive=True)
    _, state = await start(aiohttp_client, directory, store)
    record = await fire(state)
    assert (record.status, record.executions) == ("failed", 3)
    done = remote.root / "in" / "done"
    assert names(done) == ["eu", "top.csv"]
    assert (done / "eu" / "de" / "deep.csv").read_bytes() == b"2\n"
    assert (remote.root / "in" / "error" / "eu" / "bad.csv").read_bytes() == b"3\n"
    assert (await fire(state)).status == "idle"  # done/ and error/ are not polled


def test_the_connection_must_be_of_the_trigger_kind(tmp_path: Path) -> None:
    remote = Remote("sftp", tmp_path, {"connector": "ftp", "host": "h", "username": "u"})
    _, _, problems = load_directory(write_process(tmp_path / "p", remote))
    assert [p.message for p in problems] == ["connection 'remote' is not a sftp connection"]
