"""The `file` connector: a directory that processes may read and write, and nothing else.

Every path a step names is relative to the connection's `base_dir`; absolute paths,
`..` escapes and symlinks leading out are refused. Writes are atomic (a temporary name,
then a rename), so readers never see half a file. File work runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from runtime import registry
from runtime.components import ConnectionClient, ConnectionConfig
from runtime.errors import WharfError


class FileAccessError(WharfError):
    problem = "file-access"
    title = "File access refused"


@registry.connector("file")
class FileConnection(ConnectionConfig):
    """A local (or mounted) directory, used by the `file.*` steps."""

    connector: Literal["file"]
    base_dir: str = Field(
        description="The directory; relative paths are relative to the server's working "
        "directory. Steps cannot reach outside it."
    )
    create: bool = Field(True, description="Create the directory when it does not exist.")

    async def open(self) -> FileClient:
        base = await asyncio.to_thread(Path(self.base_dir).resolve)
        if self.create:
            await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
        return FileClient(base)


class FileClient(ConnectionClient):
    def __init__(self, base: Path):
        self.base = base

    def resolve(self, relative: str) -> Path:
        """The real path of `relative` inside the base directory, or FileAccessError."""
        if not relative or Path(relative).is_absolute():
            raise FileAccessError(f"{relative!r}: paths are relative to the connection's directory")
        path = (self.base / relative).resolve()
        if not path.is_relative_to(self.base):
            raise FileAccessError(f"{relative!r} leads outside the connection's directory")
        return path

    def write(self, relative: str, data: bytes, mode: str) -> Path:
        target = self.resolve(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "append":
            with target.open("ab") as handle:
                handle.write(data)
            return target
        if mode == "create" and target.exists():
            raise FileAccessError(f"{relative!r} exists already", status=409)
        descriptor, temporary = tempfile.mkstemp(prefix=".wharf-", dir=target.parent)
        try:
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
        if not self.base.is_dir():
            raise FileAccessError(f"{self.base} is not a directory")
        if not os.access(self.base, os.W_OK):
            raise FileAccessError(f"{self.base} is not writable")
        return f"{self.base} is a writable directory"
