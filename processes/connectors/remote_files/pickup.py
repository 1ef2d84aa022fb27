"""The part of the `ftp.poll` / `sftp.poll` trigger that is about remote files, not
schedules: a fire's session that survives idling out, moving a finished file aside
without overwriting another, and a picked-up file's media type."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from processes.connectors.remote_files.session import RemoteClient, RemoteSession
from runtime.core.errors import WharfError

T = TypeVar("T")

MEDIA_TYPES = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".xml": "application/xml",
    ".txt": "text/plain",
}


def media_type(name: str) -> str:
    """A picked-up file's media type, by its extension."""
    return MEDIA_TYPES.get(posixpath.splitext(name)[1].lower(), "application/octet-stream")


class ReopeningSession:
    """A fire's remote session. A call that fails on a session already used is retried
    once on a fresh one: the old one may have idled out while an execution ran."""

    def __init__(self, client: RemoteClient):
        self.client = client
        self.session: RemoteSession | None = None
        self.used = False

    async def call(self, work: Callable[[RemoteSession], T]) -> T:
        return await asyncio.to_thread(self._call, work)

    def _call(self, work: Callable[[RemoteSession], T]) -> T:
        if self.session is not None and self.used:
            try:
                return work(self.session)
            except WharfError:
                raise
            except Exception:
                self._close()
        if self.session is None:
            self.session = self.client.session()
        self.used = True
        return work(self.session)

    def _close(self) -> None:
        session, self.session, self.used = self.session, None, False
        if session is not None:
            with contextlib.suppress(Exception):  # a dead session has nothing left to release
                session.__exit__(None, None, None)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)


def move_into(session: RemoteSession, path: str, directory: str) -> str:
    """Move a file into `directory` (created if missing), never over another file: a
    clashing name gets a UTC timestamp before its extension."""
    session.mkdir(directory)
    name = posixpath.basename(path)
    target = posixpath.join(directory, name)
    if session.stat(target) is not None:
        stem, extension = posixpath.splitext(name)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = posixpath.join(directory, f"{stem}.{stamp}{extension}")
    session.rename(path, target)
    return target
