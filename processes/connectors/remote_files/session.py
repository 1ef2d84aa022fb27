"""What the `ftp` and `sftp` connectors share: a blocking session on a remote directory.

Both speak through blocking libraries (ftplib, paramiko) run in a worker thread, one
session per step run or poller fire. A connector implements `RemoteSession` (put, get,
list, delete, rename, stat, directories, mkdir) and `RemoteClient.session`; everything
else here (atomic uploads, `base_dir` confinement, the login check) is shared. Uploads
are atomic: a temporary name, then a rename, so a partner never picks up half a file.
"""

from __future__ import annotations

import asyncio
import builtins
import fnmatch
import posixpath
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from pydantic import Field, model_validator

from processes.connectors.paths import join_confined
from runtime.core import secrets
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.durations import Duration
from runtime.core.errors import WharfError


class RemoteFileError(WharfError):
    problem = "remote-file-error"
    title = "Remote file operation failed"
    status = 502


@dataclass
class RemoteEntry:
    name: str
    size: int
    mtime: float


class RemoteSession(AbstractContextManager["RemoteSession"]):
    """Blocking operations on one open session (called from a worker thread)."""

    @abstractmethod
    def put(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, path: str) -> bytes: ...

    @abstractmethod
    def list(self, directory: str) -> list[RemoteEntry]: ...

    @abstractmethod
    def delete(self, path: str) -> None: ...

    @abstractmethod
    def rename(self, source: str, target: str) -> None: ...

    @abstractmethod
    def stat(self, path: str) -> RemoteEntry | None:
        """The file at `path`, or None if there is none (or it is not a file)."""

    @abstractmethod
    def directories(self, directory: str) -> builtins.list[str]:
        """Names of the subdirectories of `directory`."""

    @abstractmethod
    def mkdir(self, path: str) -> None:
        """Create `path` and its missing parents; an existing directory is fine."""

    def put_atomic(self, path: str, data: bytes) -> None:
        directory, name = posixpath.split(path)
        temporary = posixpath.join(directory, f".{name}.wharf-part")
        self.put(temporary, data)
        self.rename(temporary, path)


def plain_name(name: str) -> bool:
    """A listed name is one plain entry (a hostile server cannot list `../x` into a path)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def make_dirs(
    is_dir: Callable[[str], bool | None],
    make: Callable[[str], object],
    path: str,
    failures: tuple[type[Exception], ...] = (OSError,),
) -> None:
    """mkdir -p; a directory another runtime created meanwhile is fine too. `failures`
    are the errors `make` raises when it could not create the directory."""
    found = is_dir(path)
    if found is False:
        raise RemoteFileError(f"{path} exists and is not a directory")
    if found:
        return
    parent = posixpath.dirname(path)
    if parent and parent != path:
        make_dirs(is_dir, make, parent, failures)
    try:
        make(path)
    except failures:
        if not is_dir(path):
            raise


class RemoteConnection(ConnectionConfig):
    """Base of the `ftp` and `sftp` connection configs."""

    host: str = Field(description="The server's host name or address.")
    port: int = Field(description="The server's port.")
    username: str = Field(description="The user to log in as.")
    password: str | None = Field(None, description="A reference: ${env:NAME}.")
    base_dir: str = Field(
        "/",
        description="Remote directory that step paths are relative to; no path a step or "
        "poller names can leave it (absolute paths and `..` climbing above it are refused).",
    )
    timeout: Duration = 30.0

    @model_validator(mode="after")
    def _password_by_reference(self) -> RemoteConnection:
        if self.password and not self.insecure and not secrets.is_reference(self.password):
            raise secrets.LiteralSecretError(
                ("password",),
                "password is a literal secret; write it as ${env:NAME} or ${file:/path}",
            )
        return self

    @property
    def base(self) -> str:
        return posixpath.normpath(self.base_dir)

    def remote_path(self, relative: str) -> str:
        """The server path of a step's `relative` path, confined to `base_dir`."""
        return join_confined(self.base, relative)

    def relative_path(self, remote: str) -> str:
        """A server path under `base_dir` as processes see it: relative to `base_dir`."""
        return posixpath.relpath(remote, self.base)


class RemoteClient(ConnectionClient):
    def __init__(self, config: RemoteConnection):
        self.config = config

    @abstractmethod
    def session(self) -> RemoteSession: ...

    async def check(self) -> str:
        def probe() -> int:
            with self.session() as session:
                return len(session.list(self.config.base))

        count = await asyncio.to_thread(probe)
        return f"logged in, {count} entries in {self.config.base_dir}"


def matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name, pattern)
