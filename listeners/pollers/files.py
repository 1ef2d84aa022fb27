"""`ftp.poll` and `sftp.poll`: pick files up from a remote directory, one execution each.

Each file version runs once across every runtime sharing the store: its item key is
`path|size|mtime`, claimed in the store before the download, and finished only after the
file was moved, deleted or kept, so a file is never marked done before its execution
succeeded. A file may still be being written: it is skipped until its mtime is older than
`min_age`, and its size and mtime are checked again right before the download (a file
that changes during the download gets a new key and comes again). Blocking FTP/SFTP work
runs in a worker thread, on one session per fire.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from processes.connectors.base import check_connection_name
from processes.connectors.paths import confine
from processes.connectors.remote_files import (
    RemoteClient,
    RemoteConnection,
    RemoteEntry,
    RemoteFileError,
    RemoteSession,
    ReopeningSession,
    media_type,
    move_into,
)
from runtime.core import registry
from runtime.core.document import Document
from runtime.core.durations import Duration
from runtime.core.errors import ConfigError, WharfError
from runtime.schedules.sources import Batch, Fire, Source
from runtime.schedules.timing import ScheduleContext, TimedTrigger

if TYPE_CHECKING:
    from runtime.core.connections import Connections
    from runtime.core.engine import Process

log = logging.getLogger("wharf.poller.files")

# A claim still `running` after this long belongs to a runtime that died; another takes over.
CLAIM_STALE_AFTER = 3600.0
# Most servers give whole-second mtimes: a file may have changed up to a second after it.
MTIME_RESOLUTION = 1.0
MAX_DEPTH = 16  # `recursive` stops here (a symlink loop on an FTP server)


class FilePollTrigger(TimedTrigger):
    """Poll a remote directory on a schedule and run the process once per new file, with
    the file's bytes as the body (media type from the extension) and the properties
    `file_name`, `file_path`, `file_size`, `file_mtime` (ISO 8601) and `file_directory`.
    Each file version (path, size, mtime) runs once across every runtime sharing the store;
    after its execution the file is moved to `done_directory` (or deleted, or kept), and a
    failed one to `error_directory`. Moves never overwrite: a clashing name gets a UTC
    timestamp before its extension. Hidden files (`.name`) are never picked."""

    execution_trigger: ClassVar[str] = "poll"
    connector: ClassVar[str]

    connection: str = Field(description="Name of a connection in connections.yaml.")
    directory: str = Field(".", description="Directory to poll, relative to base_dir.")
    pattern: str = Field("*", description="Glob on the file name, e.g. `*.csv`.")
    recursive: bool = Field(
        False,
        description="Poll subdirectories too (not the done and error directories); a moved "
        "file keeps its path relative to `directory`.",
    )
    min_age: Duration = Field(
        10.0,
        description="Skip files modified less than this long ago (they may still be being "
        "written); mtimes are read as whole seconds.",
    )
    max_files: int = Field(
        100, ge=1, le=10_000, description="Files per fire at most, oldest first."
    )
    on_success: Literal["move", "delete", "keep"] = Field(
        "move",
        description="After a successful execution: `move` to `done_directory`, `delete`, or "
        "`keep` (left in place and remembered).",
    )
    done_directory: str = Field(
        "done", description="Relative to `directory`; must stay under the connection's base_dir."
    )
    on_error: Literal["move", "keep", "retry"] = Field(
        "move",
        description="After a failed execution or download: `move` to `error_directory`, "
        "`keep` (left and remembered), or `retry` (left and not remembered: it runs again "
        "next fire).",
    )
    error_directory: str = Field(
        "error", description="Relative to `directory`; must stay under the connection's base_dir."
    )

    @field_validator("connection")
    @classmethod
    def _known_connection(cls, value: str, info: ValidationInfo) -> str:
        return check_connection_name(value, info, cls.connector)

    @field_validator("directory")
    @classmethod
    def _directory_confined(cls, value: str) -> str:
        try:
            confine(value)
        except WharfError as exc:
            raise ValueError(exc.detail) from None
        return value

    @field_validator("done_directory", "error_directory")
    @classmethod
    def _targets_elsewhere(cls, value: str, info: ValidationInfo) -> str:
        if posixpath.normpath(value) == ".":
            raise ValueError(f"`{info.field_name}` must differ from `directory`")
        try:
            confine(posixpath.join(info.data.get("directory", "."), value))
        except WharfError as exc:
            raise ValueError(exc.detail) from None
        return value

    def source(self, process: Process, context: ScheduleContext) -> Source:
        return FileSource(self, context.connections)


@dataclass(slots=True)
class _Pick:
    """A listed file that may run in this fire."""

    root: str  # the polled directory
    directory: str  # the directory holding it (under root when recursive)
    entry: RemoteEntry
    key: str  # path|size|mtime: what the store remembers

    @property
    def path(self) -> str:
        return posixpath.join(self.directory, self.entry.name)

    @property
    def mtime_iso(self) -> str:
        return datetime.fromtimestamp(self.entry.mtime, UTC).isoformat()


class FileSource(Source):
    def __init__(self, trigger: FilePollTrigger, connections: Connections):
        self.trigger = trigger
        self.connections = connections
        self._open: set[ReopeningSession] = set()
        self._config: RemoteConnection | None = None

    async def batches(self, fire: Fire) -> AsyncIterator[Batch]:
        client = await self.connections.client(self.trigger.connection)
        if not isinstance(client, RemoteClient):  # pragma: no cover - checked at load
            raise ConfigError(f"connection {self.trigger.connection!r} is not ftp or sftp")
        self._config = client.config
        session = ReopeningSession(client)
        self._open.add(session)
        errors: list[str] = []
        try:
            root = client.config.remote_path(self.trigger.directory)
            listed = await session.call(lambda s: self._list(s, root))
            taken = 0
            for pick in await self._candidates(fire, root, listed):
                if taken + len(errors) >= self.trigger.max_files:
                    break
                data = await self._download(fire, session, pick, errors)
                if data is None:
                    continue
                taken += 1
                properties = {**fire.properties(), **self._properties(pick)}
                document = Document.raw(data, media_type(pick.entry.name), properties)
                yield Batch([document], pick.path, {"pick": pick, "session": session})
            if errors:
                raise RemoteFileError("; ".join(errors))
        finally:
            self._open.discard(session)
            await session.close()

    def _list(self, session: RemoteSession, root: str) -> list[tuple[str, RemoteEntry]]:
        """(directory, file) for every file under `root` (its subdirectories if recursive)."""
        targets = (self.trigger.done_directory, self.trigger.error_directory)
        skip = {self._target(root, root, target) for target in targets}
        found: list[tuple[str, RemoteEntry]] = []
        pending = [(root, 0)]
        while pending:
            directory, depth = pending.pop()
            found += [(directory, entry) for entry in session.list(directory)]
            if self.trigger.recursive and depth < MAX_DEPTH:
                for name in session.directories(directory):
                    path = posixpath.join(directory, name)
                    if not name.startswith(".") and path not in skip:
                        pending.append((path, depth + 1))
        return found

    async def _candidates(
        self, fire: Fire, root: str, listed: list[tuple[str, RemoteEntry]]
    ) -> list[_Pick]:
        """The listed files to try this fire: matching, settled and not done, oldest first."""
        trigger = self.trigger
        settled_before = (
            time.time() - trigger.min_age - (MTIME_RESOLUTION if trigger.min_age else 0)
        )
        picks = []
        for directory, entry in listed:
            if entry.name.startswith(".") or not fnmatch.fnmatch(entry.name, trigger.pattern):
                continue
            if entry.mtime > settled_before:
                continue  # may still be being written
            pick = _Pick(root, directory, entry, "")
            pick.key = f"{pick.path}|{entry.size}|{pick.mtime_iso}"
            picks.append(pick)
        known = await fire.store.known_items(fire.process, [p.key for p in picks])
        fresh = [pick for pick in picks if pick.key not in known]
        return sorted(fresh, key=lambda p: (p.entry.mtime, p.path))

    async def _download(
        self, fire: Fire, session: ReopeningSession, pick: _Pick, errors: list[str]
    ) -> bytes | None:
        """The file's bytes, or None: not this fire (it changed, another runtime has it, or
        the download failed: then the file got the error treatment and `errors` says why)."""
        listed = pick.entry
        now = await session.call(lambda s: s.stat(pick.path))
        if now is None or (now.size, now.mtime) != (listed.size, listed.mtime):
            return None  # gone, or still growing
        store = fire.store
        stale = time.time() - CLAIM_STALE_AFTER
        if not await store.claim_item(fire.process, pick.key, fire.runtime_id, stale):
            return None
        try:
            data = await session.call(lambda s: s.get(pick.path))
        except Exception as exc:
            detail = exc.detail if isinstance(exc, WharfError) else f"{type(exc).__name__}: {exc}"
            errors.append(f"downloading {pick.path} failed: {detail}")
            try:
                await self._on_error(fire, session, pick, None)
            except Exception:
                log.exception("poll %s: after the failed download of %s", fire.process, pick.path)
            return None
        if len(data) != listed.size:  # written to during the download: its new version comes
            await store.finish_item(fire.process, pick.key, "changed", None)
            return None
        return data

    @property
    def config(self) -> RemoteConnection:
        assert self._config is not None  # set by the fire before any file is picked
        return self._config

    def _properties(self, pick: _Pick) -> dict[str, object]:
        """Paths relative to the connection's base_dir, as the `ftp.*`/`sftp.*` steps take them."""
        return {
            "file_name": pick.entry.name,
            "file_path": self.config.relative_path(pick.path),
            "file_size": pick.entry.size,
            "file_mtime": pick.mtime_iso,
            "file_directory": self.config.relative_path(pick.directory),
        }

    def _target(self, root: str, directory: str, target: str) -> str:
        """Where a file of `directory` goes: `target` (relative to the polled root) plus
        the file's subdirectory under the root, confined to the connection's base_dir."""
        relative = posixpath.relpath(directory, root)
        return self.config.remote_path(posixpath.join(self.trigger.directory, target, relative))

    async def succeeded(self, fire: Fire, batch: Batch, execution_id: str) -> None:
        pick: _Pick = batch.context["pick"]
        session: ReopeningSession = batch.context["session"]
        try:
            if self.trigger.on_success == "delete":
                await session.call(lambda s: s.delete(pick.path))
            elif self.trigger.on_success == "move":
                target = self._target(pick.root, pick.directory, self.trigger.done_directory)
                await session.call(lambda s: move_into(s, pick.path, target))
        finally:  # a file left in place must stay remembered; see the store's retention
            kept = self.trigger.on_success == "keep"
            await self._finish(fire, pick, "done-kept" if kept else "done", execution_id)

    async def failed(self, fire: Fire, batch: Batch, execution_id: str | None) -> None:
        pick: _Pick = batch.context["pick"]
        if execution_id is None and self.trigger.on_error != "retry":
            # Never started (runtime overloaded or stopping): not the file's fault. The
            # claim stays `running` and is taken over once stale.
            return
        await self._on_error(fire, batch.context["session"], pick, execution_id)

    async def _on_error(
        self, fire: Fire, session: ReopeningSession, pick: _Pick, execution_id: str | None
    ) -> None:
        action = self.trigger.on_error
        if action == "retry":
            await self._finish(fire, pick, "retry", execution_id)
            return
        try:
            if action == "move":
                target = self._target(pick.root, pick.directory, self.trigger.error_directory)
                await session.call(lambda s: move_into(s, pick.path, target))
        finally:
            kept = action == "keep"
            await self._finish(fire, pick, "error-kept" if kept else "error", execution_id)

    async def _finish(self, fire: Fire, pick: _Pick, status: str, execution_id: str | None) -> None:
        store = fire.store
        if status == "retry":  # forgotten: the next fire picks the file up again
            await store.release_item(fire.process, pick.key)
        else:
            await store.finish_item(fire.process, pick.key, status, execution_id)

    async def close(self) -> None:
        for session in list(self._open):
            await session.close()
        self._open.clear()


@registry.trigger("ftp.poll")
class FtpPollTrigger(FilePollTrigger):
    __doc__ = FilePollTrigger.__doc__
    connector = "ftp"


@registry.trigger("sftp.poll")
class SftpPollTrigger(FilePollTrigger):
    __doc__ = FilePollTrigger.__doc__
    connector = "sftp"
