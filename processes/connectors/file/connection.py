"""The `file` connector: a directory that processes may read and write, and nothing else.

Every path a step names is relative to the connection's `base_dir` and confined to it by
the rule the remote connectors share (`paths.confine`); symlinks leading out are refused
too. A relative `base_dir` is relative to the directory holding connections.yaml. Writes
are atomic (a temporary name, then a rename), so readers never see half a file. File work
runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from processes.connectors.paths import confine, relative_to_definitions
from runtime.core import registry
from runtime.core.components import ConnectionClient, ConnectionConfig
from runtime.core.errors import WharfError


class FileAccessError(WharfError):
    problem = "file-access"
    title = "File access refused"


@registry.connector("file")
class FileConnection(ConnectionConfig):
    """A local (or mounted) directory, used by the `file.*` steps."""

    connector: Literal["file"] = Field(description="The connector kind.")
    base_dir: str = Field(
        description="The directory; a relative one is relative to the directory holding "
        "connections.yaml. Steps cannot reach outside it."
    )
    create: bool = Field(
        True,
        description="Create the directory when it does not exist (at first use; "
        "`connections test` never creates it).",
    )

    @field_validator("base_dir")
    @classmethod
    def _beside_connections_file(cls, value: str, info: ValidationInfo) -> str:
        return relative_to_definitions(value, info) or value

    async def open(self) -> FileClient:
        base = await asyncio.to_thread(Path(self.base_dir).resolve)
        if self.create:
            await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
        return FileClient(base)

    async def open_for_check(self) -> FileClient:
        base = await asyncio.to_thread(Path(self.base_dir).resolve)
        return FileClient(base, created_on_use=self.create)


class FileClient(ConnectionClient):
    def __init__(self, base: Path, *, created_on_use: bool = False):
        self.base = base
        self.created_on_use = created_on_use  # a missing base is made at first use

    def resolve(self, relative: str) -> Path:
        """The real path of `relative` inside the base directory, or FileAccessError."""
        path = (self.base / confine(relative, FileAccessError)).resolve()
        if not path.is_relative_to(self.base):
            raise FileAccessError(f"{relative!r} leads outside the connection's directory")
        return path

    def write(self, relative: str, data: bytes, mode: str, permissions: int = 0o644) -> Path:
        target = self.resolve(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "append":
            created = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, permissions)
            with os.fdopen(created, "ab") as handle:
                handle.write(data)
            return target
        if mode == "create" and target.exists():
            raise FileAccessError(f"{relative!r} exists already", status=409)
        descriptor, temporary = tempfile.mkstemp(prefix=".wharf-", dir=target.parent)
        try:
            # mkstemp makes 0600; the file gets `permissions` less the process umask.
            os.fchmod(descriptor, permissions & ~UMASK)
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    async def check(self) -> str:
        if self.created_on_use and not self.base.exists():
            parent = next(p for p in self.base.parents if p.exists())
            if not os.access(parent, os.W_OK):
                raise FileAccessError(f"{self.base} does not exist and {parent} is not writable")
            return f"{self.base} does not exist yet (created on first use)"
        if not self.base.is_dir():
            raise FileAccessError(f"{self.base} is not a directory")
        if not os.access(self.base, os.W_OK):
            raise FileAccessError(f"{self.base} is not writable")
        return f"{self.base} is a writable directory"


def _read_umask() -> int:
    """The process umask, read once at import (setting it is the only way to read it, and
    doing that later would race with other threads creating files)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


UMASK = _read_umask()
